"""``self-attention``: Lin et al. 2017's structured self-attentive classifier on movie reviews,
with the penalty on and off, word heatmaps, and ``seqlab classify``.

- :mod:`.task` — reviews as token ids, length-bucketed batches, the Trainer's task.
- :mod:`.pipeline` — the run: data, one training per penalty coefficient, test, heatmaps.
- :mod:`.report` — the report and its headline.
- :mod:`.classify` — ``seqlab classify RUN "text" [--html FILE]``.
"""

from dataclasses import dataclass, field

from ...config import check
from ...data.reviews import SOURCES
from ...models.selfattentive import SelfAttentiveConfig
from ...train import TrainConfig
from ..registry import Experiment, register


@dataclass(frozen=True)
class SelfAttentionConfig:
    source: str = "imdb"  # imdb | rotten_tomatoes
    max_tokens: int = 400  # longer reviews are cut to their first max_tokens (counted)
    vocab_size: int = 20000  # the training split's most frequent words; the rest is <unk>
    min_count: int = 2
    excerpt: int = 0  # > 0: only the first N training reviews and N/4 validation/test ones
    penalties: str = "0.1,0"  # C of each model trained; the first is the main one
    batch_size: int = 64
    pool: int = 50  # batches per length-sorted pool
    crop: bool = True  # cut each training batch to its shortest review (no padding)
    heatmaps: int = 3  # test reviews of each label on the heatmap page
    model: SelfAttentiveConfig = field(default_factory=SelfAttentiveConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=4e-3, max_steps=700, eval_every=350, checkpoint_every=175, log_every=20
        )
    )
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        check(self.source in SOURCES, "source", self.source, f"one of {', '.join(SOURCES)}")
        for name in ("max_tokens", "vocab_size", "min_count", "batch_size", "pool"):
            check(getattr(self, name) >= 1, name, getattr(self, name), "an integer >= 1")
        check(self.excerpt >= 0, "excerpt", self.excerpt, "0 (every review) or a count >= 4")
        check(self.excerpt == 0 or self.excerpt >= 4, "excerpt", self.excerpt, "0 or >= 4")
        check(self.heatmaps >= 1, "heatmaps", self.heatmaps, "an integer >= 1")
        self.penalty_list  # noqa: B018 - validates

    @property
    def penalty_list(self) -> tuple[float, ...]:
        """The penalty coefficients C, each >= 0, no repeats."""
        try:
            values = tuple(float(v) for v in str(self.penalties).split(",") if v.strip())
        except ValueError:
            values = ()
        check(
            bool(values) and len(set(values)) == len(values),
            "penalties",
            self.penalties,
            "a comma-separated list of distinct coefficients, e.g. 1,0",
        )
        bad = [v for v in values if not v >= 0 or v == float("inf")]
        check(
            not bad,
            "penalties",
            self.penalties,
            "penalty coefficients C >= 0 (0 = no penalty); a negative C would reward hops "
            "that attend alike",
        )
        return values


def training_name(penalty: float) -> str:
    """The folder under trainings/ of the model trained with coefficient C."""
    return f"penalty{penalty:g}"


from . import classify, pipeline  # noqa: E402 - they read the configuration above

PRESETS = {
    "quick": SelfAttentionConfig(
        excerpt=320,
        max_tokens=120,
        vocab_size=2000,
        heatmaps=2,
        batch_size=32,
        pool=4,
        model=SelfAttentiveConfig(
            embedding_size=16, hidden_size=8, attention_size=8, hops=3, mlp_size=16
        ),
        train=TrainConfig(lr=3e-3, max_steps=20, eval_every=10, checkpoint_every=10, log_every=5),
    ),
    "default": SelfAttentionConfig(),
}

register(
    Experiment(
        name="self-attention",
        summary="Lin et al. 2017 structured self-attention over a BiLSTM on IMDB reviews: "
        "penalty on/off, word heatmaps, seqlab classify",
        presets=PRESETS,
        run=pipeline.run,
        commands=(classify.CLASSIFY,),
        one_thread=True,
        preset_notes={
            "quick": "320 reviews, 20 steps, seconds",
            "default": "20,000 IMDB reviews, 700 steps (2.2 epochs) for each of C = 0.1 and 0",
        },
    )
)
