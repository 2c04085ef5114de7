"""The one tokenizer of the kernel command line (/proc/cmdline).

Like the kernel: blanks separate words, and blanks inside double quotes do
not. `words()` keeps the quotes, for readers that evaluate a value as a shell
word (`ltsp.NAME=value`, spec §2.8); `tokenize()` removes them, for the plain
values (root=, nfsroot=, ip= ...).
"""

from __future__ import annotations

BLANKS = frozenset(" \t\n\v\f\r")


def words(text: str) -> list[str]:
    """Split on blanks outside double quotes; the quotes stay in the words."""
    found: list[str] = []
    word: list[str] = []
    in_word = quoted = False
    for char in text:
        if char in BLANKS and not quoted:
            if in_word:
                found.append("".join(word))
            word, in_word = [], False
            continue
        if char == '"':
            quoted = not quoted
        word.append(char)
        in_word = True
    if in_word:
        found.append("".join(word))
    return found


def tokenize(text: str) -> list[str]:
    """`words()` with the double quotes removed: `a="b c"` gives `a=b c`."""
    return [word.replace('"', "") for word in words(text)]
