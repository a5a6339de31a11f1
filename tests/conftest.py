import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def lengths_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """(T, B, 1) bool mask of valid steps."""
    return (torch.arange(T)[:, None] < lengths[None, :]).unsqueeze(-1)
