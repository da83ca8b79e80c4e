"""The wheats-and-chaffs corpus is well formed (its grading runs in test_grader.py::test_verify_passes)."""
import pytest

from grader.rubric import COURSE_SECTIONS
from variants import KIT, Edit, EditError, Variant, load_variants


def test_corpus_size_and_tags():
    variants = load_variants()
    chaffs = [v for v in variants if v.kind == "chaff"]
    wheats = [v for v in variants if v.kind == "wheat"]
    assert len(chaffs) >= 40 and len(wheats) >= 8
    every_section = {key for sections in COURSE_SECTIONS.values() for key in sections}
    assert {v.item for v in chaffs} == every_section     # every rubric section of every course has chaffs
    assert len({v.name for v in variants}) == len(variants)


def test_every_variant_edit_applies_and_changes_the_code(tmp_path):
    for variant in load_variants():
        written = variant.write(tmp_path / variant.name)
        for name, path in written.items():
            assert path.read_text() != (KIT / name).read_text(), f"{variant.name} leaves {name} unchanged"
            compile(path.read_text(), f"{variant.name}/{name}", "exec")
        assert written or variant.artifact_edit, variant.name


def test_an_edit_that_no_longer_applies_fails_loudly(tmp_path):
    stale = Variant("stale", "chaff", "fid", [Edit("fid.py", "this text is not in fid.py", "x")])
    with pytest.raises(EditError, match="stale: fid.py: expected the text once, found it 0 times"):
        stale.write(tmp_path)
    stale_block = Variant("stale-block", "wheat", "", [Edit("fid.py", "no such first line", "x", block=True)])
    with pytest.raises(EditError, match="found 0"):
        stale_block.write(tmp_path)
