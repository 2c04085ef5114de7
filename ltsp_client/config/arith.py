"""Shell arithmetic `$((...))` on integers: safe to evaluate (it runs nothing).

Supports what POSIX sh supports except assignments: numbers (decimal, 0x hex,
leading-0 octal), variable names and `$NAME`/`${NAME}`, unary `+ - ! ~`,
`* / %`, `+ -`, `<< >>`, `< <= > >=`, `== !=`, `& ^ |`, `&& ||`, `?:` and
parentheses. Anything else raises ArithError and the caller keeps the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TOKEN_RE = re.compile(
    r"\s*(?:(0[xX][0-9a-fA-F]+|[0-9]+)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$?([A-Za-z_][A-Za-z0-9_]*)"
    r"|(<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%()<>&^|!~?:]))"
)
MAX_SHIFT = 63
MAX_NESTING = 64


class ArithError(Exception):
    pass


def _wrap(value: int) -> int:
    """Signed 64-bit, like the shell's intmax_t."""
    return (value + 2**63) % 2**64 - 2**63


def _cdiv(a: int, b: int) -> int:
    """C division: truncates toward zero."""
    if b == 0:
        raise ArithError("division by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


BINARY: dict[str, tuple[int, Callable[[int, int], int]]] = {
    "||": (1, lambda a, b: int(bool(a) or bool(b))),
    "&&": (2, lambda a, b: int(bool(a) and bool(b))),
    "|": (3, lambda a, b: a | b),
    "^": (4, lambda a, b: a ^ b),
    "&": (5, lambda a, b: a & b),
    "==": (6, lambda a, b: int(a == b)),
    "!=": (6, lambda a, b: int(a != b)),
    "<": (7, lambda a, b: int(a < b)),
    "<=": (7, lambda a, b: int(a <= b)),
    ">": (7, lambda a, b: int(a > b)),
    ">=": (7, lambda a, b: int(a >= b)),
    "<<": (8, lambda a, b: a << b),
    ">>": (8, lambda a, b: a >> b),
    "+": (9, lambda a, b: a + b),
    "-": (9, lambda a, b: a - b),
    "*": (10, lambda a, b: a * b),
    "/": (10, _cdiv),
    "%": (10, lambda a, b: a - b * _cdiv(a, b)),
}


def _number(text: str) -> int:
    text = text.strip()
    try:
        if text[:2].lower() == "0x":
            return int(text, 16)
        if len(text) > 1 and text.startswith("0"):
            return int(text, 8)
        return int(text or "0", 10)
    except ValueError:
        raise ArithError(f"not a number: {text!r}") from None


def evaluate_arith(expression: str, lookup: Callable[[str], str | None]) -> int:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = expression.rstrip()
    while pos < len(text):
        match = TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise ArithError(f"unsupported arithmetic near {text[pos:]!r}")
        number, braced, name, op = match.groups()
        if number is not None:
            tokens.append(("num", str(_wrap(_number(number)))))
        elif braced or name:
            tokens.append(("num", str(_number(lookup(braced or name) or "0"))))
        else:
            tokens.append(("op", op))
        pos = match.end()
    parser = _Parser(tokens)
    value = parser.ternary()
    if parser.pos != len(tokens):
        raise ArithError("trailing tokens")
    return value


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> str | None:
        if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "op":
            return self.tokens[self.pos][1]
        return None

    def ternary(self) -> int:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ArithError("expression nested too deeply")
        try:
            return self._ternary()
        finally:
            self.depth -= 1

    def _ternary(self) -> int:
        cond = self.binary(1)
        if self.peek() != "?":
            return cond
        self.pos += 1
        yes = self.ternary()
        if self.peek() != ":":
            raise ArithError("expected :")
        self.pos += 1
        no = self.ternary()
        return yes if cond else no

    def binary(self, level: int) -> int:
        left = self.unary()
        while True:
            op = self.peek()
            if op is None or op not in BINARY or BINARY[op][0] < level:
                return left
            precedence, func = BINARY[op]
            self.pos += 1
            right = self.binary(precedence + 1)
            if op in ("<<", ">>") and not 0 <= right <= MAX_SHIFT:
                raise ArithError("shift out of range")
            left = _wrap(func(left, right))

    def unary(self) -> int:
        signs: list[int] = []
        while True:
            if self.pos >= len(self.tokens):
                raise ArithError("unexpected end")
            kind, text = self.tokens[self.pos]
            self.pos += 1
            if kind == "num" or text == "(":
                break
            operand = {"+": 0, "-": 1, "!": 2, "~": 3}.get(text)
            if operand is None:
                raise ArithError(f"unexpected {text!r}")
            signs.append(operand)
        if kind == "num":
            value = _number(text)
        else:
            value = self.ternary()
            if self.peek() != ")":
                raise ArithError("expected )")
            self.pos += 1
        for operand in reversed(signs):
            value = _wrap((value, -value, int(not value), ~value)[operand])
        return value
