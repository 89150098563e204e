"""The app's pages (Gradio), a module per tab: ``speech``, ``piano``, ``composer`` and
``handwriting``, each its request functions (thin over ``synth.services``) and its layout;
``serving`` is how every request is served (typed errors to messages, uploads, outputs,
streaming), ``page`` what the layouts share. ``app.py`` at the repository root puts the tabs on one
page, queues and launches it.

Importing this package gives the app its own temporary folder for uploads and outputs
($GRADIO_TEMP_DIR, set before Gradio is imported, which reads it then) and turns Gradio's
analytics off: nothing is reported anywhere.
"""
import os
import tempfile

os.environ.setdefault("GRADIO_TEMP_DIR", tempfile.mkdtemp(prefix="synth-app-"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
