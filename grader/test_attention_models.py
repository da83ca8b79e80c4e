"""EE898 Step 2.2 Attention G and D (5 points): one SelfAttention(256), where the handout puts it.

Generator: after the last residual block, before the first up-sampling layer. Discriminator: on the
output of its third conv layer (after IN and LeakyReLU), before the fourth. Judged on your own Table
2 networks (a Table 2 mistake costs 1.1, not here)."""
import pytest
import torch
import torch.nn.functional as F

from grader.arch import close, t
from grader.probe import fresh, fresh_int


def model_trace(probe, part: str, k: int) -> dict:
    x = torch.randn(1, 3, 32, 32, generator=fresh(k))
    got = probe("attention_model_trace", part=part, x=x, seed=fresh_int(k + 1), gamma=0.5)
    assert got["blocks"] == 1, f"expected one SelfAttention block in the attention {part}, found {got['blocks']}"
    kinds = [c["kind"] for c in got["calls"]]
    assert kinds.count("attention") == 1, f"the SelfAttention block must run once a forward pass, ran {kinds.count('attention')} times"
    return got


def neighbours(calls: list[dict]):
    """The calls just before and just after the attention block (convs outside it, residual blocks)."""
    at = [c["kind"] for c in calls].index("attention")
    return calls[:at], calls[at], calls[at + 1:]


@pytest.mark.student("attention:AttentionGenerator", "attention:AttentionDiscriminator")
@pytest.mark.points(1)
def test_one_block_added_to_each_network(probe):
    """AttentionGenerator / AttentionDiscriminator: your Table 2 network + one SelfAttention(256), same output shapes"""
    for part in ("G", "D"):
        got = model_trace(probe, part, 230 if part == "G" else 232)
        extra = got["params"] - got["base_params"]
        assert extra == got["block_params"], \
            (f"the attention {part} should have your Table 2 {part}'s {got['base_params']:,} parameters plus one "
             f"SelfAttention(256) ({got['block_params']:,}), got {got['params']:,} ({extra:+,})")
        assert got["out_shape"] == got["base_shape"], \
            f"attention {part}: expected the output shape of your Table 2 {part}, {got['base_shape']}, got {got['out_shape']}"


@pytest.mark.student("attention:AttentionGenerator")
@pytest.mark.points(2)
def test_generator_attention_after_the_residual_blocks(probe):
    """Generator: the block takes the last residual block's output and feeds the first up-sampling layer"""
    before, block, after = neighbours(model_trace(probe, "G", 234)["calls"])
    residual = [c for c in before if c["kind"] == "residual"]
    assert residual and not any(c["kind"] == "residual" for c in after), \
        "the attention block must run after all the residual blocks"
    assert t(block["input"]).shape[1] == 256, f"the block must see the 256-channel features, got {t(block['input']).shape[1]}"
    assert close(block["input"], residual[-1]["output"]), "the block's input must be the last residual block's output"
    nxt = [c for c in after if c["kind"] == "conv"]
    assert nxt and close(nxt[0]["input"], block["output"]), \
        "the first up-sampling layer must take the attention block's output"


@pytest.mark.student("attention:AttentionDiscriminator")
@pytest.mark.points(2)
def test_discriminator_attention_before_the_last_two_convs(probe):
    """Discriminator: the block takes the third conv layer's activations (IN, LeakyReLU) and feeds the fourth conv"""
    before, block, after = neighbours(model_trace(probe, "D", 236)["calls"])
    convs_before, convs_after = [c for c in before if c["kind"] == "conv"], [c for c in after if c["kind"] == "conv"]
    assert (len(convs_before), len(convs_after)) == (3, 2), \
        f"the block must sit between the 3rd and the 4th conv: {len(convs_before)} convs ran before it, {len(convs_after)} after"
    activations = F.leaky_relu(F.instance_norm(t(convs_before[-1]["output"])), 0.2)
    assert close(block["input"], activations), \
        "the block's input must be the third layer's output after its InstanceNorm and LeakyReLU(0.2)"
    assert close(convs_after[0]["input"], block["output"]), "the fourth conv must take the attention block's output"
