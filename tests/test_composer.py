"""The LSTM composer: the frame NLL against a direct computation, sampling through the engine,
priming, MIDI out read back independently, bad input."""
import math

import mido
import numpy as np
import pytest
import torch

from synth.checkpoint import load_checkpoint, save_checkpoint
from synth.errors import InputError
from synth.models.composer import Composer, ComposerConfig, composer_loss, evaluate
from synth.music import PianoRoll, piano_midi, write_midi
from synth.music.composition import compose, longest_copied_run, primer_roll
from synth.music.datasets import midi_folder_dataset, pad_pieces, piece_batch


def tiny(head="nade", seed=0, **overrides):
    torch.manual_seed(seed)
    values = dict(head=head, hidden_size=16, n_layers=1, nade_hidden=8, steps_per_quarter=2, dropout=0.0)
    values.update(overrides)
    return Composer(ComposerConfig(**values)).eval()


def random_rolls(b=2, t=6, seed=1):
    return (torch.rand(b, t, 88, generator=torch.Generator().manual_seed(seed)) < 0.08).float()


def log_sigmoid(x):
    return -math.log1p(math.exp(-x)) if x > 0 else x - math.log1p(math.exp(x))


def test_nade_frame_nll_equals_a_direct_computation():
    model, rolls = tiny("nade"), random_rolls()
    nll = model.frame_nll(rolls).detach()  # (2, 6)
    # Direct: run the LSTM, then the NADE formula key by key in plain Python floats.
    h = model.hidden(rolls).detach()
    head = model.head
    W, V = head.W.detach().double(), head.V.detach().double()
    for b in range(2):
        for t in range(6):
            bv = head.visible_bias(h[b, t]).detach().double()
            a = head.hidden_bias(h[b, t]).detach().double().clone()
            total = 0.0
            for i in range(88):
                logit = float(bv[i] + torch.dot(torch.sigmoid(a), V[i]))
                v = float(rolls[b, t, i])
                total -= log_sigmoid(logit) if v else log_sigmoid(-logit)
                a += v * W[:, i]
            assert nll[b, t].item() == pytest.approx(total, rel=1e-5)


def test_independent_frame_nll_equals_a_direct_computation():
    model, rolls = tiny("independent"), random_rolls()
    logits = model.head(model.hidden(rolls)).detach().double()
    direct = -(rolls * torch.nn.functional.logsigmoid(logits) + (1 - rolls) * torch.nn.functional.logsigmoid(-logits)).sum(-1)
    assert torch.allclose(model.frame_nll(rolls).double(), direct, atol=1e-4)


@pytest.mark.parametrize("head", ["nade", "independent"])
def test_stepping_gives_the_teacher_forced_frame_nll(head):
    model, rolls = tiny(head), random_rolls()
    state, x, stepped = model.start(2), model.initial_input(2), []
    with torch.no_grad():
        for t in range(rolls.shape[1]):
            stepped.append(-model.step(state, x).log_prob(rolls[:, t]))
            x = rolls[:, t]
    assert torch.allclose(torch.stack(stepped, 1), model.frame_nll(rolls).detach(), atol=1e-4)


def test_loss_is_the_mean_over_real_frames_only():
    model = tiny()
    batch = pad_pieces([random_rolls(1, 6)[0].numpy(), random_rolls(1, 3, seed=2)[0].numpy()])
    nll = model.frame_nll(batch["rolls"]).detach()
    expected = (nll[0].sum() + nll[1, :3].sum()) / 9
    assert composer_loss(model, batch).item() == pytest.approx(expected.item(), rel=1e-6)


def test_evaluate_reports_nll_and_frame_accuracy():
    model = tiny("independent")
    with torch.no_grad():
        model.head.bias.fill_(-20.0)  # predicts silence everywhere: accuracy 0 on frames with notes
    result = evaluate(model, [pad_pieces([random_rolls(1, 5)[0].numpy()])])
    assert result["frame_accuracy"] == 0.0 and result["frames"] == 5 and result["frame_nll"] > 0


def test_composed_midi_reads_back_with_mido_with_the_same_notes(tmp_path):
    model = tiny()
    piece = compose(model, bars=2, seed=3, tempo_bpm=120)[0]
    assert piece.roll.keys.shape == (2 * 4 * 2, 88)
    path = write_midi(piece.to_midi(), tmp_path / "out.mid")
    midi_file = mido.MidiFile(path)
    tempo = next(m.tempo for m in midi_file.tracks[0] if m.type == "set_tempo")
    assert mido.tempo2bpm(tempo) == pytest.approx(120)
    assert any(m.type == "program_change" and m.program == 0 for t in midi_file.tracks for m in t)
    ticks_per_step = midi_file.ticks_per_beat // 2
    on, notes = {}, []
    for track in midi_file.tracks:
        now = 0
        for m in track:
            now += m.time
            if m.type == "note_on" and m.velocity > 0:
                on[m.note] = now
            elif m.type in ("note_off", "note_on"):
                notes.append((m.note, round(on.pop(m.note) / ticks_per_step), round(now / ticks_per_step)))
    assert sorted(notes, key=lambda n: (n[1], n[0])) == piece.roll.notes()
    assert len(notes) > 0


def test_priming_continues_the_given_piece(tmp_path):
    model = tiny()
    source = piano_midi([(60, 0.0, 0.5, 90), (64, 0.5, 1.0, 90), (67, 1.0, 2.0, 90), (48, 0.0, 2.0, 70)], tempo_bpm=120)
    path = write_midi(source, tmp_path / "primer.mid")
    primer = primer_roll(path, steps_per_quarter=2)
    assert primer.notes() == [(48, 0, 8), (60, 0, 2), (64, 2, 4), (67, 4, 8)]
    pieces = compose(model, bars=1, batch_size=3, seed=0, primer=primer, tempo_bpm=120)
    for piece in pieces:
        assert piece.primer_steps == 8 and len(piece.roll) == 16
        assert np.array_equal(piece.roll.keys[:8], primer.keys)
        out = write_midi(piece.to_midi(), tmp_path / "continued.mid")
        starts = sorted((n.start, n.pitch) for n in mido_notes(out))
        assert starts[:4] == [(0.0, 48), (0.0, 60), (0.5, 64), (1.0, 67)]


def mido_notes(path):
    from types import SimpleNamespace

    midi_file, out, on = mido.MidiFile(path), [], {}
    now = 0.0
    for m in midi_file:  # iterating a MidiFile gives messages with times in seconds
        now += m.time
        if m.type == "note_on" and m.velocity > 0:
            on[m.note] = now
        elif m.type in ("note_off", "note_on") and m.note in on:
            out.append(SimpleNamespace(pitch=m.note, start=round(on.pop(m.note), 6), end=round(now, 6)))
    return out


def test_priming_changes_what_follows():
    model = tiny()
    primer = PianoRoll.from_notes([(60, 0, 4), (64, 0, 4), (67, 0, 4)], steps_per_quarter=2)
    with_primer = compose(model, bars=2, seed=5, primer=primer)[0].roll.keys[len(primer):]
    without = compose(model, bars=2, seed=5)[0].roll.keys
    assert not np.array_equal(with_primer, without)


def test_a_seed_gives_the_same_pieces_and_a_batch_gives_different_ones():
    model = tiny()
    a = compose(model, bars=2, batch_size=2, seed=7)
    b = compose(model, bars=2, batch_size=2, seed=7)
    assert all(np.array_equal(x.roll.keys, y.roll.keys) for x, y in zip(a, b))
    assert not np.array_equal(a[0].roll.keys, a[1].roll.keys)


def test_guards_release_stuck_notes_and_break_long_silence():
    model = tiny("independent")
    with torch.no_grad():
        model.head.bias.fill_(-50.0)
        model.head.bias[39] = 50.0  # middle C always on, everything else always off
    piece = compose(model, bars=4, seed=0, max_held_bars=1.0, max_silent_bars=0)[0]
    held = piece.roll.keys[:, 39]
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], held, [0]]))))[::2]
    assert held.sum() > 0 and runs.max() <= 8  # never held past one bar (8 steps)
    with torch.no_grad():
        model.head.bias.fill_(-8.0)  # nearly always silent
    silent = compose(model, bars=8, seed=0, max_silent_bars=0.5, max_held_bars=0)[0].roll.keys
    quiet = compose(model, bars=8, seed=0, max_silent_bars=0, max_held_bars=0)[0].roll.keys
    assert silent.any(1).sum() > quiet.any(1).sum() + 4


def test_temperature_zero_is_greedy_and_deterministic_whatever_the_seed():
    model = tiny()
    a = compose(model, bars=1, temperature=0.0, seed=1)[0].roll.keys
    b = compose(model, bars=1, temperature=0.0, seed=2)[0].roll.keys
    assert np.array_equal(a, b)


@pytest.mark.parametrize("bars", [0, -1, 10_000, 2.5, "8"])
def test_absurd_length_is_refused(bars):
    with pytest.raises(InputError, match="bars must be a whole number from 1 to"):
        compose(tiny(), bars=bars)


@pytest.mark.parametrize("content, words", [
    (b"", "empty"), (b"not midi at all", "not a MIDI file"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x01\x00\x00\x90", "damaged or truncated"),
])
def test_bad_primer_uploads_give_clear_errors(tmp_path, content, words):
    path = tmp_path / "upload.mid"
    path.write_bytes(content)
    with pytest.raises(InputError, match=words):
        primer_roll(path, steps_per_quarter=2)


def test_primer_without_notes_is_refused(tmp_path):
    import pretty_midi

    with pytest.raises(InputError, match="no .*notes"):
        primer_roll(write_midi(pretty_midi.PrettyMIDI(), tmp_path / "empty.mid"), 2)
    drums_only = piano_midi([(10, 0, 1, 80)])  # below A0
    with pytest.raises(InputError, match="88 keys"):
        primer_roll(write_midi(drums_only, tmp_path / "low.mid"), 2)


def test_checkpoint_round_trip_keeps_the_samples(tmp_path):
    model = tiny()
    save_checkpoint(model, tmp_path / "ck")
    loaded = load_checkpoint(tmp_path / "ck", expect_kind="composer")
    assert loaded.config == model.config
    assert np.array_equal(compose(model, bars=1, seed=4)[0].roll.keys, compose(loaded, bars=1, seed=4)[0].roll.keys)


def test_longest_copied_run_finds_the_longest_common_run_of_frames():
    frames = np.eye(88, dtype=np.uint8)[:10]  # ten distinct frames
    corpus = [frames[[0, 1, 2, 3, 9]], frames[[5, 6, 7]]]
    assert longest_copied_run(frames[[4, 5, 6, 7, 8]], corpus) == 3
    assert longest_copied_run(frames[[0, 1, 2, 3, 4]], corpus) == 4
    assert longest_copied_run(frames[[4, 8]], corpus) == 0


def test_midi_folder_dataset_skips_bad_files_and_batches_with_transposition(tmp_path):
    write_midi(piano_midi([(60, 0.0, 1.0, 80), (64, 1.0, 2.0, 80)], tempo_bpm=120), tmp_path / "good.mid")
    (tmp_path / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00")
    (tmp_path / "empty.midi").write_bytes(b"")
    import pretty_midi

    write_midi(pretty_midi.PrettyMIDI(), tmp_path / "no_notes.mid")
    data = midi_folder_dataset(tmp_path, steps_per_quarter=2)
    assert data.names == ["good"]
    assert sorted(s["name"] for s in data.skipped) == ["corrupt.mid", "empty.midi", "no_notes.mid"]
    assert data.rolls[0].shape == (8, 88)
    batch = piece_batch(data.rolls, torch.Generator().manual_seed(0), 16, 8, max_transpose=3)
    lowest = {int(np.flatnonzero(b.numpy().any(0))[0]) for b in batch["rolls"]}
    assert lowest <= set(range(39 - 3, 39 + 4)) and len(lowest) > 1  # transposed by -3..3
    again = piece_batch(data.rolls, torch.Generator().manual_seed(0), 16, 8, max_transpose=3)
    assert torch.equal(batch["rolls"], again["rolls"])


def test_chord_frame_fraction_counts_frames_inside_a_triad_or_dominant_seventh():
    from synth.music.composition import chord_frame_fraction

    frames = np.zeros((4, 88), dtype=np.uint8)
    frames[0, [39, 43, 46]] = 1  # C E G: C major
    frames[1, [41, 44, 48, 51]] = 1  # D F A C: a minor seventh, neither a triad nor a dominant seventh
    frames[2, [39, 40, 41]] = 1  # C C# D: a cluster
    frames[3, [46, 50, 53, 56]] = 1  # G B D F: G7
    assert chord_frame_fraction(frames) == 0.5
    assert chord_frame_fraction(np.zeros((3, 88), dtype=np.uint8)) == 0.0
