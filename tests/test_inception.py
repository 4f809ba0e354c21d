"""The paper's Inception v1 (chapter 1) against its Table 1, closed forms and torchvision."""
import pytest
import torch
import torchvision
from torch import nn

from course_utils.cnn import architecture, inception

pytestmark = pytest.mark.usefixtures("one_thread")

# Szegedy et al. 2014, "Going deeper with convolutions", Table 1: the widths
# (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) and the "params" column in K.
TABLE_1 = {
    "3a": ((64, 96, 128, 16, 32, 32), 159), "3b": ((128, 128, 192, 32, 96, 64), 380),
    "4a": ((192, 96, 208, 16, 48, 64), 364), "4b": ((160, 112, 224, 24, 64, 64), 437),
    "4c": ((128, 128, 256, 24, 64, 64), 463), "4d": ((112, 144, 288, 32, 64, 64), 580),
    "4e": ((256, 160, 320, 32, 128, 128), 840), "5a": ((256, 160, 320, 32, 128, 128), 1072),
    "5b": ((384, 192, 384, 48, 128, 128), 1388),
}
# Table 1's output sizes of the blocks (channels): 3a 256, 3b 480, 4a-4c 512, 4d 528, ...
OUT_CHANNELS = {"3a": 256, "3b": 480, "4a": 512, "4b": 512, "4c": 512, "4d": 528,
                "4e": 832, "5a": 832, "5b": 1024}
# Rows whose printed params do not follow from the table's own widths (see inception.py).
PAPER_MISPRINTS = {"conv1", "4c", "5a"}


def test_blocks_copy_table_1_and_chain():
    assert set(inception.BLOCKS) == set(TABLE_1)
    previous = 192  # conv2's output
    for name, widths in inception.BLOCKS.items():
        assert tuple(widths)[1:] == TABLE_1[name][0]
        assert widths.out_channels == OUT_CHANNELS[name]
        if name not in ("4a", "5a"):  # after a max pool the channels do not change either
            assert widths.in_channels == previous
        previous = widths.out_channels


def closed_form(c_in, n1, r3, n3, r5, n5, pool):
    """Weights and biases of one block, from conv_parameters (1x1, 3x3 and 5x5 kernels)."""
    p = architecture.conv_parameters
    return (p(c_in, n1, 1) + p(c_in, r3, 1) + p(r3, n3, 3) + p(c_in, r5, 1) + p(r5, n5, 5)
            + p(c_in, pool, 1))


@pytest.mark.parametrize("name", list(TABLE_1))
def test_each_block_counts_what_its_widths_say(name):
    model = inception.inception_v1()
    block = getattr(model, f"inception{name}")
    count = sum(p.numel() for p in block.parameters())
    assert count == closed_form(*inception.BLOCKS[name])
    # the fourth branch has a real 5 x 5 kernel, unlike torchvision's googlenet
    assert block.branch3[1].conv.kernel_size == (5, 5)


@pytest.mark.parametrize("row", list(inception.PAPER_PARAMS_K))
def test_each_row_agrees_with_the_papers_params_column(row):
    """Weights in K of 1024 agree within the table's rounding (2 %), except the misprints."""
    rows = inception.table_rows(inception.inception_v1())
    ours, paper = inception.table_units(rows[row]), inception.PAPER_PARAMS_K[row]
    if row in PAPER_MISPRINTS:
        assert abs(ours / paper - 1) > 0.04  # a real disagreement, not rounding
    else:
        assert ours == pytest.approx(paper, rel=0.02, abs=1)
    if row in ("conv2", "linear"):
        assert ours == paper  # exact: 64 + 64 * 9 * 192 weights / 1024 = 112; 1024 * 1000


def test_total_agrees_with_the_papers_total():
    model = inception.inception_v1()
    ours = inception.table_units(model)
    assert ours == pytest.approx(sum(inception.PAPER_PARAMS_K.values()), rel=0.01)
    assert 6.7e3 < sum(inception.PAPER_PARAMS_K.values()) < 6.9e3  # "about 6.8M"
    assert ours == sum(inception.table_units(m) for m in inception.table_rows(model).values())
    weights = sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))
    assert ours * 1024 == weights


def test_shapes_follow_table_1():
    model = inception.inception_v1()
    table = architecture.summary(model, (3, 224, 224))
    sides = {"conv1": 112, "maxpool1": 56, "conv2": 56, "maxpool2": 28, "inception3b": 28,
             "maxpool3": 14, "inception4e": 14, "maxpool4": 7, "inception5b": 7, "avgpool": 1}
    for name, side in sides.items():
        assert table.row(name).output_shape[-1] == side, name
    for name, channels in OUT_CHANNELS.items():
        assert table.row(f"inception{name}").output_shape[0] == channels
    assert table.row("fc").output_shape == (1000,)
    assert sum(r.kind == "Inception" for r in table) == 9
    assert table.total_parameters == sum(p.numel() for p in model.parameters())


def test_forward_on_real_numbers_and_no_batch_norm():
    torch.manual_seed(0)
    model = inception.InceptionV1(num_classes=7).eval()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    with torch.no_grad():
        out = model(torch.rand(2, 3, 224, 224))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


def test_torchvision_variant_differs_by_its_3x3_branch_and_batch_norm():
    """torchvision's googlenet: branch3 is 3 x 3 and every convolution has batch norm."""
    with torch.device("meta"):
        tv = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)
    assert tv.inception3a.branch3[1].conv.kernel_size == (3, 3)
    assert any(isinstance(m, nn.BatchNorm2d) for m in tv.modules())
    ours = sum(p.numel() for p in inception.inception_v1().parameters())
    assert sum(p.numel() for p in tv.parameters()) < ours
