"""``separation``: an LSTM separates a human voice from music with a time-frequency mask.

Mixtures (:mod:`seqlab.data.mixtures`): asterisk's speaker (one human voice) plus music on hold
at a random voice-to-music ratio. The voice is a fixed target, so this is not the
permutation-invariant problem of two voices of one kind. A seqlab LSTM (bidirectional, two
layers) reads the mixture's normalised log-magnitude STFT and predicts the voice's mask
(:class:`~seqlab.models.separator.Separator`); the estimate keeps the mixture's phase. Scored
by SI-SDR improvement on held-out mixtures (sentences and music no training mixture holds),
against the ideal ratio mask's improvement as the ceiling of masks of this kind.

``seqlab separate RUN mixture.wav --out DIR`` runs a trained separator on a user's WAV file
(mono, resampled to 8 kHz) and writes the voice and the rest.
"""

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ...config import check
from ...data import mixtures as data
from ...data.audio import read_wav, write_wav
from ...data.speech import RATE
from ...data.synthetic import TEST, generator
from ...errors import DataError
from ...models.separator import Separator
from ...train import TrainConfig
from ...viz import speech as plots
from .. import sweep
from ..registry import Command, Experiment, register
from ..rundir import Run
from . import report as reporting
from .task import SeparationTask, ideal_ratio_mask, measure

TRAINING = "separator"


@dataclass(frozen=True)
class SeparationConfig:
    seconds: float = 2.0  # training mixtures
    ratio_low_db: float = -5.0  # voice-to-music power ratio, drawn uniformly
    ratio_high_db: float = 5.0
    n_fft: int = 256  # 32 ms at 8 kHz
    hop: int = 128
    hidden_size: int = 96
    num_layers: int = 2
    bidirectional: bool = True
    batch_size: int = 16
    valid_mixtures: int = 32
    test_mixtures: int = 100
    test_seconds: float = 4.0
    examples: int = 2  # held-out mixtures written as WAV files
    backend: str = "auto"
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=2e-3, max_steps=1500, eval_every=250, checkpoint_every=250, log_every=25
        )
    )
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        check(0.5 <= self.seconds <= 10, "seconds", self.seconds, "0.5 to 10 seconds")
        check(self.ratio_low_db <= self.ratio_high_db, "ratio_low_db", self.ratio_low_db,
              "at most ratio_high_db")  # fmt: skip
        check(self.n_fft >= 16 and self.n_fft % 2 == 0, "n_fft", self.n_fft, "an even number >= 16")
        check(0 < self.hop <= self.n_fft // 2, "hop", self.hop, "in (0, n_fft/2]")
        for name in ("hidden_size", "num_layers", "batch_size", "valid_mixtures", "test_mixtures"):
            check(getattr(self, name) >= 1, name, getattr(self, name), "an integer >= 1")
        check(0 <= self.examples <= self.test_mixtures, "examples", self.examples,
              "0 to test_mixtures")  # fmt: skip
        check(1 <= self.test_seconds <= 30, "test_seconds", self.test_seconds, "1 to 30 seconds")

    @property
    def ratio_db(self) -> tuple[float, float]:
        return (self.ratio_low_db, self.ratio_high_db)


def build(cfg: SeparationConfig) -> Separator:
    return Separator(cfg.n_fft, cfg.hop, cfg.hidden_size, cfg.num_layers, cfg.bidirectional,
                     cfg.backend)  # fmt: skip


def run(cfg: SeparationConfig, run: Run, on_event=None):
    if on_event:
        on_event("stage", {"text": "reading the voice prompts and the music"})
    torch.manual_seed(cfg.seed)
    model = build(cfg)
    model.fit_normaliser(data.mixtures(64, cfg.seconds, "train", generator(cfg.seed, 10**6),
                                       cfg.ratio_db)[0])  # fmt: skip
    task = SeparationTask(cfg, cfg.seed)
    record = sweep.fit(run, TRAINING, model, task, cfg.train,
                       sweep.fingerprint("separation", cfg), on_event)  # fmt: skip
    model = model.cpu().eval()
    mix, voice, music = data.mixtures(cfg.test_mixtures, cfg.test_seconds, "test",
                                      generator(cfg.seed, TEST), cfg.ratio_db)  # fmt: skip
    found = measure(model, mix, voice, music)
    details = {
        "steps": record["steps"],
        "train_seconds": record["train_seconds"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "voice_seconds": {s: data.voice_stream(s).shape[0] / RATE for s in data.SPLITS},
        "music_seconds": {s: data.music_stream(s).shape[0] / RATE for s in data.SPLITS},
        **found["stats"],
        "per_mixture": {
            k: found[k] for k in ("mixture_si_sdr", "improvement", "ideal_improvement")
        },  # fmt: skip
    }
    if run.ctx.main:
        details["examples"] = write_examples(cfg, run, model, found, mix, voice, music)
    if on_event:
        s = found["stats"]
        on_event(
            "stage",
            {
                "text": f"held-out SI-SDR improvement {s['improvement']['mean']:.2f} "
                f"dB (ideal ratio mask {s['ideal_improvement']['mean']:.2f})"
            },
        )
    return run.finish(reporting.headline(details), details, reporting.report(cfg, run, details))


def write_examples(cfg, run: Run, model, found, mix, voice, music) -> list[dict]:
    """The first held-out mixtures as WAV files (mixture, estimate, reference, ideal mask) and
    their spectrograms; each file's numbers (RMS, peak, duration, SI-SDR)."""
    folder = run.dir / "audio"
    folder.mkdir(exist_ok=True)
    rows = []
    for k in range(cfg.examples):
        signals = {"mixture": mix[k], "estimate": found["estimate"][k], "reference": voice[k],
                   "ideal-mask": found["ideal"][k], "music": music[k]}  # fmt: skip
        files = {}
        for name, samples in signals.items():
            path = write_wav(folder / f"example{k + 1}-{name}.wav", samples, RATE)
            samples = read_wav(path)[0]  # the numbers of the file as written
            files[name] = {
                "file": f"audio/{path.name}",
                "rms_dbfs": round(data.rms_db(samples), 2),
                "peak": round(float(samples.abs().max()), 4),
                "seconds": samples.shape[0] / RATE,
                "si_sdr_db": round(float(data.si_sdr(samples, voice[k])), 2),
            }
            if name != "music":
                run.add_artefact(path, f"held-out mixture {k + 1}: {name} (SI-SDR against the "
                                 f"voice {files[name]['si_sdr_db']:.1f} dB)", "audio")  # fmt: skip
        rows.append(files)
    spec = model.stft(mix[:1])
    masks = model.mask(spec)[0].detach().T  # (F, T)
    ideal = ideal_ratio_mask(model, voice[:1], music[:1])[0].T

    def db(x):
        return (20 * torch.log10(model.stft(x[None])[0].abs() + 1e-6)).numpy()

    shown = [("mixture", db(mix[0])), ("estimate (LSTM mask, mixture phase)",
             db(found["estimate"][0])), ("reference: the voice alone", db(voice[0])),
             ("ideal ratio mask's resynthesis", db(found["ideal"][0]))]  # fmt: skip
    g = found["improvement"][0]
    run.save_figure(
        plots.separation_figure(shown, cfg.hop / RATE, RATE / 2,
                                f"held-out mixture 1: SI-SDR improvement {g:.1f} dB"),
        "spectrograms.png",
        "Log-magnitude spectrograms (dB) of held-out mixture 1: the mixture, the LSTM's "
        "estimate, the voice alone and the ideal ratio mask's resynthesis.",
        dpi=90,
    )  # fmt: skip
    run.save_figure(
        plots.mask_figure(masks.numpy(), ideal.numpy(), cfg.hop / RATE, RATE / 2),
        "masks.png",
        "The LSTM's mask for held-out mixture 1 beside the ideal ratio mask |S|/(|S|+|N|).",
        dpi=90,
    )
    run.save_figure(
        plots.improvement_figure(found["improvement"], found["ideal_improvement"]),
        "improvement.png",
        "SI-SDR improvement over the mixture on every held-out mixture: the LSTM's mask against "
        "the ideal ratio mask's.",
    )
    return rows


# -- seqlab separate ----------------------------------------------------------------------------


def separate_arguments(parser) -> None:
    parser.add_argument("mixture", help="a WAV file (any rate and channels: made mono, 8 kHz)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="where NAME-voice.wav and NAME-rest.wav go")  # fmt: skip


def load_separator(run: Run) -> Separator:
    return sweep.load_finished(run, TRAINING, build(run.cfg), "the separator").eval()


def separate_handler(run: Run, args, out) -> int:
    model = load_separator(run)
    samples, _ = read_wav(args.mixture, RATE)
    if samples.shape[0] < model.n_fft:
        raise DataError(f"{args.mixture}: too short to separate ({samples.shape[0]} samples at "
                        f"8 kHz; at least {model.n_fft})")  # fmt: skip
    with torch.no_grad():
        voice = model.separate(samples[None])[0]
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(args.mixture).stem
    voice_path = write_wav(folder / f"{stem}-voice.wav", voice.clamp(-1, 1), RATE)
    rest_path = write_wav(folder / f"{stem}-rest.wav", (samples - voice).clamp(-1, 1), RATE)
    out.text(f"{voice_path}\n{rest_path}\n")
    out.note(f"  ({samples.shape[0] / RATE:.2f} s at 8 kHz; voice RMS {data.rms_db(voice):.1f} "
             f"dBFS, rest {data.rms_db(samples - voice):.1f} dBFS)")  # fmt: skip
    return 0


SEPARATE = Command("separate", "separate the voice from the music in a WAV file",
                   separate_arguments, separate_handler)  # fmt: skip

PRESETS = {
    "quick": SeparationConfig(
        hidden_size=16,
        num_layers=1,
        batch_size=4,
        valid_mixtures=4,
        test_mixtures=4,
        test_seconds=2.0,
        examples=1,
        train=TrainConfig(
            lr=5e-3, max_steps=20, eval_every=10, checkpoint_every=20, log_every=5
        ),  # fmt: skip
    ),
    "default": SeparationConfig(),
}

register(
    Experiment(
        name="separation",
        summary="a BiLSTM mask separates a human voice from music (SI-SDR vs the ideal mask)",
        presets=PRESETS,
        run=run,
        commands=(SEPARATE,),
        preset_notes={
            "quick": "a 1x16 BiLSTM, 20 steps, seconds",
            "default": "a 2x96 BiLSTM, 1,500 steps of 16 two-second mixtures",
        },
    )
)
