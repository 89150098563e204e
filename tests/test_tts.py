"""The text-to-mel network: teacher forcing against stepping, the loss against a hand computation,
the stopping rule and failure checks, reading with retries, streaming into a WaveNet vocoder
(streamed audio equals all-at-once audio for the same seed), checkpoints."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synth.checkpoint import load_checkpoint, save_checkpoint
from synth.errors import InputError
from synth.models.attention import GaussianWindow
from synth.models.handwriting import GaussianWindow as HandwritingWindow
from synth.models.tts import MelFrames, TextToMel, TextToMelConfig, tts_loss
from synth.models.wavenet_generation import generate_waveform
from synth.sampling.engine import generate
from synth.tts.reader import (WindowTrace, WindowWatch, check_vocoder, griffin_lim, mel_stream, read_sentences,
                              sentences_of, speech_frames, stream_speech)
from conftest import tiny_wavenet

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(seed: int = 0, **overrides) -> TextToMel:
    torch.manual_seed(seed)
    values = dict(embedding_size=8, encoder_convs=1, encoder_size=8, prenet_sizes=(8, 4), attention_size=12,
                  decoder_size=12, n_window=2, reduction=2, frames_per_char=4.0,
                  mel={"sample_rate": 16000, "n_fft": 1024, "hop_length": 256, "win_length": 1024, "n_mels": 80,
                       "f_min": 40.0, "f_max": 7600.0, "log_floor": 1e-5})
    values.update(overrides)
    model = TextToMel(TextToMelConfig(**values)).eval()
    model.set_statistics(torch.randn(80) - 5, torch.rand(80) + 0.5, torch.full((80,), -9.0))
    return model


def tiny_vocoder(model: TextToMel, **overrides):
    vocoder = tiny_wavenet(cond_channels=80, upsample_scales=(16, 16), **overrides)
    vocoder.metadata = {"features": {"kind": "mel", **model.config.mel}}
    return vocoder


def test_one_window_module_serves_handwriting_and_speech():
    assert HandwritingWindow is GaussianWindow
    assert isinstance(tiny().window, GaussianWindow)


def test_stepping_with_teacher_frames_matches_the_teacher_forced_forward():
    model = tiny(prenet_dropout=0.0)
    text = "the cat sat."
    chars, lengths = model.encode_text([text])
    targets = torch.randn(1, 10, 80)  # 5 steps of r = 2 frames, standardised
    with torch.no_grad():
        frames, stop_logits, phi = model(chars, lengths, targets)
        state = model.start(1, text=text)
        x = model.initial_input(1)
        for t in range(5):
            dist = model.step(state, x)
            assert torch.allclose(dist.frames.view(1, 2, 80), frames[:, 2 * t:2 * t + 2], atol=1e-5)
            assert torch.allclose(dist.stop_logit, stop_logits[:, t], atol=1e-5)
            x = torch.cat([targets[:, 2 * t:2 * t + 2].reshape(1, -1), torch.zeros(1, 1)], -1)


def test_a_text_reads_the_same_alone_and_in_a_padded_batch():
    model = tiny(prenet_dropout=0.0)
    texts = ["a short one.", "and a much longer sentence here."]
    chars, lengths = model.encode_text(texts)
    targets = torch.randn(2, 8, 80)
    with torch.no_grad():
        batched, _, _ = model(chars, lengths, targets)
        alone, _, _ = model(*model.encode_text(texts[:1]), targets[:1])
    assert torch.allclose(batched[:1], alone, atol=1e-5)


def test_loss_is_l1_on_real_frames_plus_weighted_end_of_speech_cross_entropy():
    model = tiny()
    model.train()
    texts = ["ab.", "abcd."]
    chars, lengths = model.encode_text(texts)
    mel = torch.randn(2, 80, 7)
    n_frames = torch.tensor([5, 7])
    batch = {"chars": chars, "lengths": lengths, "mel": mel, "n_frames": n_frames}
    torch.manual_seed(3)
    loss = tts_loss(model, batch)
    torch.manual_seed(3)
    targets = model.standardise(F.pad(mel, (0, 1)))  # (2, 8, 80)
    frames, stop_logits, _ = model(chars, lengths, targets)
    l1 = sum((frames[b, :n] - targets[b, :n]).abs().sum() for b, n in enumerate([5, 7])) / (12 * 80)
    stop_targets = torch.tensor([[0.0, 0, 1, 1], [0, 0, 0, 1]])  # the step holding the last frame, and after
    w = model.config.stop_weight
    bce = -(w * stop_targets * F.logsigmoid(stop_logits) + (1 - stop_targets) * F.logsigmoid(-stop_logits))
    assert torch.allclose(loss, l1 + bce.mean(), atol=1e-5)


def test_mel_frames_sample_at_the_location_with_the_stop_flag_at_one_half():
    dist = MelFrames(torch.tensor([[1.0, -2.0]]), torch.tensor([0.3]))
    assert torch.equal(dist.sample(torch.empty(1, 0)), torch.tensor([[1.0, -2.0, 1.0]]))
    assert dist.log_prob(torch.tensor([[1.0, -2.0, 1.0]])).item() == pytest.approx(-2 * math.log(2) - F.softplus(
        torch.tensor(-0.3)).item(), abs=1e-6)
    with pytest.raises(InputError, match="temperature"):
        dist.tempered(0.5)


def test_text_outside_the_vocabulary_is_refused_naming_the_characters():
    with pytest.raises(InputError, match="'7'.*'X'"):
        tiny().encode_text(["X marks 7."])


def test_tts_and_handwriting_refuse_unknown_characters_in_the_same_words():
    from synth.models.handwriting import check_text

    prefix = "text has characters outside the model's vocabulary: '7' 'X'; allowed: "
    with pytest.raises(InputError) as read:
        tiny().encode_text(["X marks 7."])
    with pytest.raises(InputError) as written:
        check_text("X marks 7.", "abkmrs .")
    assert str(read.value).startswith(prefix) and str(read.value).endswith("(synth.tts.normalise writes text into them)")
    assert str(written.value) == prefix + "'abkmrs .'"


def test_the_same_seed_reads_the_same_frames_and_another_seed_differs():
    model = tiny()
    a = read_sentences(model, ["hello there."], seed=1, max_retries=0).sentences[0].mel
    b = read_sentences(model, ["hello there."], seed=1, max_retries=0).sentences[0].mel
    c = read_sentences(model, ["hello there."], seed=2, max_retries=0).sentences[0].mel
    assert torch.equal(a, b)
    assert a.shape[0] == 80 and a.shape[1] % 2 == 0
    assert not torch.equal(a[:, :min(a.shape[1], c.shape[1])], c[:, :min(a.shape[1], c.shape[1])])


def _force_window(model: TextToMel, step_bias: float, stop_bias: float) -> TextToMel:
    """A window that moves by exp(step_bias) characters per step whatever the state, and an
    end-of-speech output fixed by stop_bias: to drive the stopping rule and failure checks."""
    K = model.config.n_window
    with torch.no_grad():
        model.window.linear.weight.zero_()
        model.window.linear.bias[:K].fill_(0.0)
        model.window.linear.bias[K:2 * K].fill_(0.0)
        model.window.linear.bias[2 * K:].fill_(step_bias)
        model.stop_projection.weight.zero_()
        model.stop_projection.bias.fill_(stop_bias)
    return model


def test_a_window_that_reads_steadily_stops_when_end_of_speech_fires_at_the_end():
    model = _force_window(tiny(), math.log(0.5), 5.0)  # half a character per step, stop always "on"
    text = "abcdefgh."
    result = read_sentences(model, [text], seed=0, max_retries=0, record=True)
    sentence = result.sentences[0]
    assert sentence.failure is None
    # Stop fires from the start, but is believed only once the window reaches the last characters.
    assert sentence.early_stop
    steps = sentence.mel.shape[1] // 2
    assert steps == pytest.approx((len(text) - 2) / 0.5, abs=2)
    assert sentence.phi.shape == (steps, len(text) + 1)


def test_a_stalled_window_is_detected_and_retried():
    model = _force_window(tiny(), -20.0, -5.0)  # the window never moves
    result = read_sentences(model, ["a sentence that will not be read."], seed=0, max_retries=2)
    assert result.sentences[0].failure == "stalled"
    assert result.sentences[0].attempts == 3
    assert result.failures["stalled"] == 3


def test_a_window_jumping_over_characters_counts_as_skipping():
    model = _force_window(tiny(), math.log(6.0), -5.0)  # six characters per step
    result = read_sentences(model, ["a sentence that is skipped over quickly."], seed=0, max_retries=0)
    assert result.sentences[0].failure == "skipped"


def test_a_window_that_passes_the_end_without_end_of_speech_stops_after_a_tail():
    model = _force_window(tiny(), math.log(0.5), -5.0)
    state_model_text = "abc."
    trace = WindowTrace()
    out = generate(WindowWatch(model), max_steps=200, conditioning={"text": state_model_text, "trace": trace}).collect()
    assert bool(trace.state["completed"][0]) and bool(trace.state["passed"][0])
    assert out.shape[1] < 200


def test_the_step_budget_is_proportional_to_the_text():
    model = _force_window(tiny(), -20.0, -5.0)
    trace = WindowTrace()
    gen = generate(WindowWatch(model), max_steps=1000, conditioning={"text": "ab.", "budget_steps": [7],
                                                                     "stall_steps": 100, "trace": trace})
    assert gen.collect().shape[1] == 7
    assert bool(trace.state["over_budget"][0])


def test_long_text_is_split_into_sentences_joined_with_a_pause():
    model = tiny()
    sentences = sentences_of(model, "Dr. Smith came at 3 pm. He paid $5!")
    assert sentences == ["doctor smith came at three pee em.", "he paid five dollars."]
    pieces = list(speech_frames(model, "Dr. Smith came at 3 pm. He paid $5!", seed=0, max_retries=0))
    assert len(pieces) == 3 and torch.all(pieces[1] == model.mel_silence[:, None])


def test_unchecked_frames_stream_in_chunks_and_join_to_the_sentence():
    model = tiny()
    pieces = list(mel_stream(model, "hello there, friend.", seed=4, chunk_steps=3))
    assert len(pieces) > 1 and all(p.shape[1] <= 6 for p in pieces)
    whole = read_sentences(model, ["hello there, friend."], seed=4, max_retries=0).sentences[0].mel
    assert torch.equal(torch.cat(pieces, -1), whole)


@pytest.mark.parametrize("checked, lpc", [(True, False), (False, False), (True, True)])
def test_streamed_vocoder_audio_equals_all_at_once_audio_for_the_same_seed(checked, lpc):
    """Also for an LPC (excitation) vocoder like the bundled one: the streamed path must run the
    synthesis filter on the frames as they stream in, exactly as generate_waveform does."""
    model = tiny()
    vocoder = tiny_vocoder(model, **({"lpc_order": 16, "pre_emphasis": 0.85} if lpc else {}))
    text = "Hi there. Bye now."
    streamed = list(stream_speech(model, vocoder, text, seed=5, max_retries=0, checked=checked, chunk_seconds=0.02))
    frames = torch.cat(list(speech_frames(model, text, seed=5, max_retries=0, checked=checked)), -1)  # (80, F)
    seconds = frames.shape[1] * 256 / 16000
    whole = torch.cat(list(generate_waveform(vocoder, seconds=seconds, frames=frames[None], seed=5)), 1)[0].numpy()
    assert len(streamed) > 2  # audio came out in pieces, before the text was read to the end
    assert np.array_equal(np.concatenate(streamed), whole)
    assert len(whole) == frames.shape[1] * 256


def test_the_vocoder_reads_at_its_own_temperature_unless_told():
    from synth.sampling.policies import Temperature

    model = tiny()
    vocoder = tiny_vocoder(model)
    vocoder.metadata["sampling"] = {"temperature": 0.5}
    text = "Hi there."
    own = np.concatenate(list(stream_speech(model, vocoder, text, seed=2, max_retries=0)))
    frames = torch.cat(list(speech_frames(model, text, seed=2, max_retries=0)), -1)
    at_half = torch.cat(list(generate_waveform(vocoder, seconds=frames.shape[1] * 256 / 16000, frames=frames[None], seed=2,
                                               policy=(Temperature(0.5),))), 1)[0].numpy()
    assert np.array_equal(own, at_half)
    told = np.concatenate(list(stream_speech(model, vocoder, text, seed=2, max_retries=0, policy=())))
    assert not np.array_equal(own, told)


def test_audio_starts_before_the_later_sentences_are_read():
    model = tiny()
    vocoder = tiny_vocoder(model)
    read = []
    stream = stream_speech(model, vocoder, "One. Two. Three.", seed=0, max_retries=0,
                           on_sentence=lambda s: read.append(s.text), chunk_seconds=0.01)
    next(stream)
    assert read == ["one."]


def test_a_vocoder_on_other_features_is_refused():
    model = tiny()
    vocoder = tiny_vocoder(model)
    vocoder.metadata["features"]["f_max"] = 7000.0
    with pytest.raises(InputError, match="f_max"):
        check_vocoder(model, vocoder)


def test_griffin_lim_inverts_melfeatures(tmp_path):
    from synth.audio import MelFeatures

    rate = 16000
    t = np.arange(rate // 2) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    model = tiny()
    mel = MelFeatures()(torch.from_numpy(tone))
    audio = griffin_lim(mel, model, n_iter=16)
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * rate / len(audio) - 440) < 20


def test_griffin_lim_phases_are_drawn_from_the_seed():
    model = tiny()
    mel = torch.randn(80, 20) - 4.0  # (n_mels, F)
    a, b = griffin_lim(mel, model, n_iter=4, seed=7), griffin_lim(mel, model, n_iter=4, seed=7)
    assert np.array_equal(a, b) and len(a) == 20 * 256
    assert not np.array_equal(a, griffin_lim(mel, model, n_iter=4, seed=8))


def test_checkpoint_round_trip_keeps_statistics(tmp_path):
    model = tiny()
    save_checkpoint(model, tmp_path / "tts")
    loaded = load_checkpoint(tmp_path / "tts", expect_kind="text-to-mel")
    assert torch.equal(loaded.mel_mean, model.mel_mean) and loaded.config == model.config


@pytest.mark.slow
def test_the_network_learns_to_read_a_toy_language_at_its_own_speed():
    """Each character of a toy language sounds as its own fixed frame for 4 frames; the window
    starts at 6 frames a character. After 200 steps every held-out sentence is read to its end,
    at the language's speed, without a failure."""
    import random

    torch.manual_seed(0)
    letters = "abcdefgh"
    patterns = {c: torch.randn(80) * 2 - 5 for c in letters + " ."}

    def utterance(rng):
        text = "".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) + "."
        mel = torch.cat([patterns[c][:, None].expand(80, 4) for c in text], 1)
        return text, mel + 0.05 * torch.randn_like(mel)

    model = TextToMel(TextToMelConfig(embedding_size=32, encoder_convs=1, encoder_size=32, prenet_sizes=(32, 16),
                                      attention_size=64, decoder_size=64, n_window=3, frames_per_char=6.0))
    frames = torch.cat([utterance(random.Random(1))[1] for _ in range(50)], 1)
    model.set_statistics(frames.mean(1), frames.std(1), frames.min(1).values)
    optimiser = torch.optim.Adam(model.parameters(), 3e-3)
    rng = random.Random(0)
    for _ in range(200):
        items = [utterance(rng) for _ in range(16)]
        mel = torch.zeros(16, 80, max(m.shape[1] for _, m in items))
        for i, (_, m) in enumerate(items):
            mel[i, :, :m.shape[1]] = m
        chars, lengths = model.encode_text([t for t, _ in items])
        model.train()
        loss = tts_loss(model, {"chars": chars, "lengths": lengths, "mel": mel,
                                "n_frames": torch.tensor([m.shape[1] for _, m in items])})
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
    model.eval()
    texts = [utterance(random.Random(100 + i))[0] for i in range(20)]
    result = read_sentences(model, texts, seed=0, max_retries=0)
    assert result.failed_sentences == 0
    for sentence in result.sentences:
        assert abs(sentence.mel.shape[1] - 4 * len(sentence.text)) <= 4
