"""The app, served for real on loopback and called through gradio_client."""
import socket

import pytest
import soundfile


@pytest.fixture(scope="module")
def served_app():
    import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.build_app()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_speech_endpoint_returns_a_readable_wav_of_the_asked_length(served_app):
    from gradio_client import Client

    client = Client(served_app, verbose=False)
    path = client.predict(0.25, 0.9, 5, api_name="/generate_speech")
    data, rate = soundfile.read(path)
    assert rate == 16000 and data.shape == (4000,)
    # the server still answers after a request it must refuse (too long)
    with pytest.raises(Exception, match="greater than maximum value 10"):
        client.predict(50.0, 1.0, 0, api_name="/generate_speech")
    data, _ = soundfile.read(client.predict(0.1, 1.0, 1, api_name="/generate_speech"))
    assert data.shape == (1600,)
