"""EE898 Step 2.3 Attention maps (5 points): query_attention picks where a query position looks.

attention_map [B, N, N], N = H * W row-major, row j = the attention of position j; the map of query
(r, c) is row r * W + c reshaped to (H, W)."""
import pytest
import torch

from grader.arch import t
from grader.probe import fresh, fresh_np


def random_attention(k: int, b: int, n: int) -> torch.Tensor:
    return torch.softmax(3 * torch.randn(b, n, n, generator=fresh(k)), dim=-1)


def expected_maps(att: torch.Tensor, h: int, w: int, queries) -> torch.Tensor:
    return torch.stack([att[:, r * w + c, :].reshape(-1, h, w) for r, c in queries], dim=1)


def check(probe, att, h, w, queries):
    got = t(probe("attention_queries", attention_map=att, height=h, width=w, queries=[list(q) for q in queries]))
    want = expected_maps(att.double(), h, w, queries)
    assert list(got.shape) == list(want.shape), f"expected maps of shape {list(want.shape)} ([B, queries, H, W]), got {list(got.shape)}"
    assert torch.allclose(got, want, atol=1e-6), \
        ("the map of query (r, c) must be row r * W + c of the attention (where that position looks), reshaped "
         "to (H, W); a column, or (c, r), is not it")


@pytest.mark.student("attention:query_attention")
@pytest.mark.points(3)
def test_query_maps_are_rows_of_the_attention(probe):
    """Query (r, c) on an H x W grid (H != W): row r * W + c of each attention map, as an H x W map"""
    h, w = 3, 5
    rng = fresh_np(220)
    queries = [(int(rng.integers(0, h)), int(rng.integers(0, w))) for _ in range(4)]
    check(probe, random_attention(221, 2, h * w), h, w, queries)


@pytest.mark.student("attention:query_attention")
@pytest.mark.points(2)
def test_query_maps_any_batch_and_grid(probe):
    """Any batch, grid and number of queries: [B, Q, H, W], one map per image and query"""
    h, w = 4, 2
    check(probe, random_attention(222, 3, h * w), h, w, [(3, 1)])
    check(probe, random_attention(223, 1, 6 * 6), 6, 6, [(0, 0), (5, 5), (2, 4)])
