import pytest

from grader.markers import MarkerError, strip_solutions

SOURCE = '''def f(x):
    # TODO: double x. Hint: one multiplication.
    # BEGIN SOLUTION
    y = 2 * x
    return y
    # END SOLUTION


def g():
    return 1
'''


def test_strip_replaces_block_with_todo_raise_and_keeps_the_rest():
    out = strip_solutions(SOURCE, "f.py")
    assert "2 * x" not in out and "SOLUTION" not in out
    assert "# TODO: double x. Hint: one multiplication." in out
    assert "# (about 2 lines of code)" in out
    namespace = {}
    exec(compile(out, "f.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="f.py, f: the TODO above"):
        namespace["f"](3)
    assert namespace["g"]() == 1
    assert out.count("double x") == 1                      # the prompt stands once, in the comment


def test_the_raise_names_the_method_it_stands_in():
    src = ("class A:\n    def m(self):\n        x = 1\n        # TODO: a\n        # BEGIN SOLUTION\n"
           "        pass\n        # END SOLUTION\n")
    namespace = {}
    exec(strip_solutions(src, "a.py"), namespace)
    with pytest.raises(NotImplementedError, match=r"^a.py, A.m: "):
        namespace["A"]().m()


def test_reference_source_is_unchanged_python():
    namespace = {}
    exec(SOURCE, namespace)
    assert namespace["f"](3) == 6


@pytest.mark.parametrize("source,message", [
    ("# TODO: a\n# BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n# END SOLUTION\n", "without BEGIN"),
    ("# TODO: a\n# BEGIN SOLUTION\n# TODO: b\n# BEGIN SOLUTION\n# END SOLUTION\n# END SOLUTION\n", "nested"),
    ("x = 1\n# BEGIN SOLUTION\nx = 2\n# END SOLUTION\n", "needs a '# TODO"),
    ("def f():\n    # TODO: a\n    # BEGIN SOLUTION\n    pass\n# END SOLUTION\n", "indented differently"),
    ("x = 1  # BEGIN SOLUTION\n", "stand alone"),
])
def test_malformed_markers_are_rejected_with_line_numbers(source, message):
    with pytest.raises(MarkerError, match=message):
        strip_solutions(source, "bad.py")


def test_quotes_in_prompt_do_not_break_the_generated_code():
    src = 'def f():\n    # TODO: use "quotes" and a \\ backslash\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n'
    namespace = {}
    out = strip_solutions(src)
    exec(out, namespace)
    assert '# TODO: use "quotes" and a \\ backslash' in out
    with pytest.raises(NotImplementedError, match="the TODO above"):
        namespace["f"]()
