"""The one kernel command-line tokenizer (kcmdline): blanks split, double quotes group."""

from __future__ import annotations

from ltsp_client.init.cmdline import parse
from ltsp_client.kcmdline import tokenize, words


def test_words_keep_the_quotes() -> None:
    assert words(' a  "b c" d"e f"g\th\n') == ["a", '"b c"', 'd"e f"g', "h"]
    assert words('ltsp.x="1\t2" y') == ['ltsp.x="1\t2"', "y"]  # every blank is quoted alike


def test_tokenize_removes_them() -> None:
    assert tokenize('a "b c" d="e f" ltsp.x="1 2"  ') == ["a", "b c", "d=e f", "ltsp.x=1 2"]
    assert tokenize("") == [] and tokenize(" \t\n") == []
    assert tokenize('""') == [""]


def test_typed_values_and_ltsp_variables_see_the_same_words() -> None:
    """root= and ltsp.image= are split by the same rule (they used to differ on a quoted tab)."""
    cmd = parse('root=/dev/nfs ltsp.image="a\tb" nfsroot="1.2.3.4:/srv/x y"')
    assert cmd.ltsp == {"IMAGE": "a\tb"}
    assert cmd.nfsroot == "1.2.3.4:/srv/x y"
    assert cmd.tokens == ("root=/dev/nfs", "ltsp.image=a\tb", "nfsroot=1.2.3.4:/srv/x y")
