"""Services: what the faces (the app, ``app.py`` and ``synth/app/``, and the command,
``synth/cli/``) offer, one module per thing. A face builds a request, names the ``Limits`` it
serves under, and shows what comes back; it holds no model logic and imports neither torch nor a
model module.

- ``models``: the one place a model is loaded by role (bundled, ``$SYNTH_ASSETS``, or a path).
- ``bounds``: every bound on a request, defined once (``APP`` and ``COMMAND`` limits).
- ``relay``: the one streaming relay (request -> policy -> engine -> float32 chunks, with progress).
- ``speech``: speaking with the speech WaveNet; resynthesising a clip through the mel vocoder.
- ``piano``: MIDI through the piano WaveNet and through FluidSynth; piano-roll pictures.
- ``composition``: pieces from the LSTM composer.
- ``handwriting``: text to ink with Graves's synthesis network, styles, drawings, files.
- ``wavenet``: any WaveNet checkpoint, plainly (``synth wavenet generate`` / ``info``).
- ``tts``: text to speech: text read aloud by the text-to-mel network and the mel vocoder, streamed.

Imports run one way: faces -> services -> solvers -> domain -> models -> engine -> kernels.
"""
