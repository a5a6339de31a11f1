"""separation: the quick run's numbers, audio files and `seqlab separate`."""

import json
import wave

import pytest
import torch

from seqlab.data.audio import read_wav, resample, write_wav
from seqlab.data.mixtures import si_sdr

from ..runs import run_cli


def test_quick_run_scores_held_out_mixtures_against_the_ideal_mask(quick_runs):
    folder = quick_runs("separation")
    summary = json.loads((folder / "summary.json").read_text())
    d = summary["details"]
    assert len(d["per_mixture"]["improvement"]) == 4
    assert d["ideal_improvement"]["mean"] > 6  # the ceiling is far above the target
    assert d["improvement"]["mean"] == pytest.approx(
        sum(d["per_mixture"]["improvement"]) / 4, abs=1e-9
    )
    audio = [a for a in summary["artefacts"] if a["kind"] == "audio"]
    assert {a["path"] for a in audio} == {
        f"audio/example1-{n}.wav" for n in ("mixture", "estimate", "reference", "ideal-mask")
    }
    files = d["examples"][0]
    mix, _ = read_wav(folder / "audio/example1-mixture.wav")
    voice, _ = read_wav(folder / "audio/example1-reference.wav")
    music, _ = read_wav(folder / "audio/example1-music.wav")
    assert mix.shape == voice.shape == (16000,) and files["mixture"]["seconds"] == 2.0
    assert torch.allclose(mix, voice + music, atol=3 / 2**15)  # the files hold the mixture
    assert files["reference"]["si_sdr_db"] > 60 and files["mixture"]["si_sdr_db"] < 10
    assert files["ideal-mask"]["si_sdr_db"] > files["mixture"]["si_sdr_db"] + 5


def test_separate_writes_the_voice_and_the_rest_of_a_users_file(quick_runs, tmp_path, capsys):
    folder = quick_runs("separation")
    mix, _ = read_wav(folder / "audio/example1-mixture.wav")
    stereo = tmp_path / "mine.wav"  # 16 kHz stereo: made mono and 8 kHz
    up = resample(mix, 8000, 16000)
    pcm = (up * 2**15).round().clamp(-(2**15), 2**15 - 1).to(torch.int16)
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(torch.stack([pcm, pcm], 1).numpy().tobytes())
    assert run_cli("separate", folder, stereo, "--out", tmp_path / "out") == 0
    voice, rate = read_wav(tmp_path / "out" / "mine-voice.wav")
    rest, _ = read_wav(tmp_path / "out" / "mine-rest.wav")
    assert rate == 8000 and voice.shape == rest.shape and abs(voice.shape[0] - 16000) <= 1
    assert si_sdr(voice + rest, read_wav(stereo, 8000)[0]) > 40  # voice + rest = the mixture
    assert si_sdr(voice + rest, mix) > 25  # and the mixture survived 16 kHz and back


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not audio at all", "not a WAV file"), (None, "0 frames")],
)
def test_separate_refuses_bad_files_in_one_line(quick_runs, tmp_path, capsys, content, message):
    path = tmp_path / "bad.wav"
    if content is None:
        write_wav(tmp_path / "ok.wav", torch.zeros(10), 8000)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
    else:
        path.write_bytes(content)
    assert run_cli("separate", quick_runs("separation"), path, "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
