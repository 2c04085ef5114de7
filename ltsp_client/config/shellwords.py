"""A small POSIX-sh lexer and expander for the assignment lines of ltsp.conf.

Upstream hands ltsp.conf to /bin/sh, so a value means what the shell makes of
it: quotes, backslashes, `# comments`, `$VAR`/`${VAR...}` expanded with the
values current at that point. We reproduce that for assignments only and never
run anything: command substitution and arithmetic are kept as literal text and
reported, so `ltsp config check` can say so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ltsp_client.config.arith import ArithError, evaluate_arith

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ASSIGN_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
BLANKS = " \t"
OPERATORS = "|&<>()"
SPECIAL_PARAMS = "@*#?-$!0123456789"
PARAM_OPS = (":-", ":=", ":+", ":?", "##", "%%", "-", "=", "+", "?", "#", "%")
# Dynamic shell values we cannot know without a running shell: kept literally.
UNKNOWABLE_PARAMS = frozenset("$!-0")
MAX_NESTING = 32  # ${a:-${b:-...}} deeper than this is refused (no Python recursion errors)


class IncompleteError(Exception):
    """The text ends inside a quote, `${`, `$(` or after a backslash: more lines needed."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class ShellSyntaxError(Exception):
    """Text the shell would refuse (e.g. `${a b}`, `;;`)."""


@dataclass(frozen=True)
class Lit:
    text: str
    quoted: bool


@dataclass(frozen=True)
class Param:
    """`$NAME`, `${NAME}`, `${NAME<op><arg>}` or `${#NAME}` (op "len")."""

    name: str
    op: str = ""
    arg: tuple[Part, ...] = ()
    quoted: bool = False


@dataclass(frozen=True)
class Subst:
    """`$(...)`, `` `...` `` or `$((...))`: never executed, kept as written."""

    text: str


Part = Lit | Param | Subst
Word = tuple[Part, ...]


@dataclass
class Statement:
    words: list[Word] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)


def lex(text: str) -> list[Statement]:
    """Split shell text into simple statements (`;` and newlines separate them).

    Raises IncompleteError when the text stops inside a construct, ShellSyntaxError
    for text the shell would reject at parse time.
    """
    return Lexer(text).statements()


class Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.text[i] if i < len(self.text) else ""

    def statements(self) -> list[Statement]:
        result: list[Statement] = []
        current = Statement()
        while self.pos < len(self.text):
            ch = self.peek()
            if ch in BLANKS:
                self.pos += 1
            elif ch == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif ch in ";\n":
                if ch == ";" and self.peek(1) == ";":
                    raise ShellSyntaxError('";;" outside a case statement')
                if ch == ";" and not current.words and not current.operators:
                    raise ShellSyntaxError('";" with no command before it')
                self.pos += 1
                result.append(current)
                current = Statement()
            elif ch == "\\" and self.peek(1) == "\n":
                self.pos += 2
            elif ch in OPERATORS:
                op = ch
                if self.peek(1) == ch and ch in "|&<>":
                    op += ch
                self.pos += len(op)
                current.operators.append(op)
            else:
                current.words.append(self.word(stop=BLANKS + ";\n" + OPERATORS))
        result.append(current)
        return [s for s in result if s.words or s.operators]

    def word(self, *, stop: str, quoted: bool = False) -> Word:
        """Read parts until an unquoted character in `stop` (or the end)."""
        parts: list[Part] = []
        while self.pos < len(self.text):
            ch = self.peek()
            if ch in stop:
                break
            if ch == "\\":
                nxt = self.peek(1)
                if nxt == "":
                    raise IncompleteError("backslash continuation")
                self.pos += 2
                if nxt != "\n":
                    parts.append(Lit(nxt, True))
            elif ch == "'" and not quoted:
                end = self.text.find("'", self.pos + 1)
                if end < 0:
                    raise IncompleteError("single quote")
                parts.append(Lit(self.text[self.pos + 1 : end], True))
                self.pos = end + 1
            elif ch == '"' and not quoted:
                self.pos += 1
                parts.extend(self.double_quoted())
            elif ch == "$":
                parts.append(self.dollar(quoted=quoted))
            elif ch == "`":
                parts.append(self.backticks())
            else:
                parts.append(Lit(ch, quoted))
                self.pos += 1
        return _merge(parts)

    def heredoc(self) -> list[Part]:
        """The whole text as a here-document body (and arithmetic) sees it."""
        return self.quoted_body(closing="")

    def double_quoted(self) -> list[Part]:
        return self.quoted_body(closing='"')

    def quoted_body(self, *, closing: str) -> list[Part]:
        """Text where only `$`, backquotes and a backslash before `$`, backquote,
        backslash, newline (or the closing quote) are special."""
        escapable = "$`\\\n" + closing
        parts: list[Part] = []
        while True:
            ch = self.peek()
            if ch == "" and closing:
                raise IncompleteError("double quote")
            if ch in ("", closing):
                self.pos += len(ch)
                return parts
            nxt = self.peek(1)
            if ch == "\\" and nxt == "" and closing:
                raise IncompleteError("double quote")
            if ch == "\\" and nxt and nxt in escapable:
                self.pos += 2
                if nxt != "\n":
                    parts.append(Lit(nxt, True))
            elif ch == "$":
                parts.append(self.dollar(quoted=True))
            elif ch == "`":
                parts.append(self.backticks())
            else:
                parts.append(Lit(ch, True))
                self.pos += 1

    def backticks(self) -> Subst:
        start = self.pos
        i = self.pos + 1
        while i < len(self.text):
            if self.text[i] == "\\":
                i += 2
                continue
            if self.text[i] == "`":
                self.pos = i + 1
                return Subst(self.text[start : self.pos])
            i += 1
        raise IncompleteError("backquote")

    def dollar(self, *, quoted: bool) -> Part:
        nxt = self.peek(1)
        if nxt == "(":
            return self.parenthesised()
        if nxt == "{":
            return self.braced(quoted=quoted)
        match = NAME_RE.match(self.text, self.pos + 1)
        if match:
            self.pos = match.end()
            return Param(match.group(), quoted=quoted)
        if nxt and nxt in SPECIAL_PARAMS:
            self.pos += 2
            return Param(nxt, quoted=quoted)
        self.pos += 1
        return Lit("$", quoted)

    def parenthesised(self) -> Subst:
        """`$(...)` or `$((...))`, balanced on parentheses, skipping quoted text."""
        start = self.pos
        i = self.pos + 2
        depth = 1
        while i < len(self.text):
            ch = self.text[i]
            if ch == "\\":
                i += 2
                continue
            if ch == "'":
                end = self.text.find("'", i + 1)
                if end < 0:
                    break
                i = end + 1
                continue
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    self.pos = i + 1
                    return Subst(self.text[start : self.pos])
            i += 1
        raise IncompleteError("$( command substitution")

    def braced(self, *, quoted: bool) -> Param:
        start = self.pos
        self.pos += 2
        length = self.peek() == "#" and self.peek(1) not in ("}", "")
        if length:
            self.pos += 1
        match = NAME_RE.match(self.text, self.pos)
        if match:
            name = match.group()
            self.pos = match.end()
        elif self.peek() and self.peek() in SPECIAL_PARAMS:
            name = self.peek()
            self.pos += 1
            while name.isdigit() and self.peek().isdigit():
                name += self.peek()
                self.pos += 1
        elif self.peek() == "":
            raise IncompleteError("${ expansion")
        else:
            raise ShellSyntaxError(f"bad substitution {self.text[start : self.pos + 1]!r}")
        if self.peek() == "}":
            self.pos += 1
            return Param(name, "len" if length else "", quoted=quoted)
        if self.peek() == "":
            raise IncompleteError("${ expansion")
        op = next((o for o in PARAM_OPS if self.text.startswith(o, self.pos)), "")
        if length or not op:
            raise ShellSyntaxError(f"bad substitution {self.text[start : self.pos + 1]!r}")
        self.pos += len(op)
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ShellSyntaxError(f"${{...}} nested more than {MAX_NESTING} deep")
        arg = self.word(stop="}", quoted=quoted)
        self.depth -= 1
        if self.peek() != "}":
            raise IncompleteError("${ expansion")
        self.pos += 1
        return Param(name, op, arg, quoted)


def _merge(parts: Sequence[Part]) -> Word:
    """Join adjacent literals of the same quoting (keeps words small)."""
    merged: list[Part] = []
    for part in parts:
        last = merged[-1] if merged else None
        if isinstance(part, Lit) and isinstance(last, Lit) and last.quoted == part.quoted:
            merged[-1] = Lit(last.text + part.text, part.quoted)
        else:
            merged.append(part)
    return tuple(merged)


def split_assignment(word: Word) -> tuple[str, Word] | None:
    """`NAME=value` -> (NAME, value parts); None if the word is not an assignment."""
    if not word or not isinstance(word[0], Lit) or word[0].quoted:
        return None
    match = ASSIGN_RE.match(word[0].text)
    if not match:
        return None
    rest = word[0].text[match.end() :]
    value: Word = ((Lit(rest, False),) if rest else ()) + word[1:]
    return match.group(1), value


def assignment_words(statement: Statement) -> list[tuple[str, Word]] | None:
    """All words are `NAME=value` and there are no operators -> the pairs; else None
    (the shell would run a command, which we never do)."""
    if statement.operators:
        return None
    pairs = []
    for word in statement.words:
        split = split_assignment(word)
        if split is None:
            return None
        pairs.append(split)
    return pairs


def is_literal(word: Word) -> bool:
    return all(isinstance(p, Lit) for p in word)


def word_text(word: Word) -> str:
    """A rough source form of a word, for messages."""
    out = []
    for part in word:
        if isinstance(part, Lit | Subst):
            out.append(part.text)
        else:
            out.append("${" + part.name + part.op + word_text(part.arg) + "}")
    return "".join(out)


class ExpansionError(Exception):
    """`${VAR?message}` with VAR unset: the shell would abort here."""


@dataclass
class Expander:
    """Expands words against a variable lookup; records what it could not expand."""

    lookup: Callable[[str], str | None]
    positional: Sequence[str] = ()
    assign: Callable[[str, str], None] | None = None
    unexpanded: list[str] = field(default_factory=list)
    depth: int = 0  # nested $((...)) being expanded

    def word(self, word: Word, *, tilde: bool = False) -> str:
        text = "".join(self.part(p) for p in word)
        if tilde and word and isinstance(word[0], Lit) and not word[0].quoted:
            head = word[0].text
            if head == "~" or head.startswith("~/"):
                home = self.lookup("HOME")
                if home is not None:
                    text = home + text[1:]
        return text

    def part(self, part: Part) -> str:
        if isinstance(part, Lit):
            return part.text
        if isinstance(part, Subst):
            if part.text.startswith("$((") and part.text.endswith("))"):
                value = self.arithmetic(part.text[3:-2])
                if value is not None:
                    return value
            self.unexpanded.append(part.text)
            return part.text
        return self.param(part)

    def arithmetic(self, expression: str) -> str | None:
        """`$((...))`: parameters expanded first, then integer arithmetic; None if the
        shell would fail or we cannot do it (the caller keeps the text)."""
        if self.depth >= MAX_NESTING:
            return None
        inner = Expander(self.lookup, self.positional, depth=self.depth + 1)
        try:
            text = "".join(inner.part(p) for p in Lexer(expression).heredoc())
            if inner.unexpanded:
                return None
            return str(evaluate_arith(text, self.lookup))
        except (IncompleteError, ShellSyntaxError, ExpansionError, ArithError):
            return None

    def value(self, name: str) -> str | None:
        if name.isdigit():
            index = int(name)
            return self.positional[index - 1] if index <= len(self.positional) else None
        if name in ("@", "*"):
            return " ".join(self.positional)
        if name == "#":
            return str(len(self.positional))
        if name == "?":
            return "0"
        return self.lookup(name)

    def param(self, p: Param) -> str:
        if p.name in UNKNOWABLE_PARAMS:
            text = "$" + p.name if not p.op else "${" + p.name + p.op + "}"
            self.unexpanded.append(text)
            return text
        current = self.value(p.name)
        if p.op == "":
            return current or ""
        if p.op == "len":
            return str(len(current or ""))
        unset_or_null = current is None or (p.op.startswith(":") and current == "")
        if p.op in (":-", "-"):
            return self.word(p.arg) if unset_or_null else current or ""
        if p.op in (":+", "+"):
            return "" if unset_or_null else self.word(p.arg)
        if p.op in (":=", "="):
            if unset_or_null:
                new = self.word(p.arg)
                if self.assign is not None and NAME_RE.fullmatch(p.name):
                    self.assign(p.name, new)
                return new
            return current or ""
        if p.op in (":?", "?"):
            if unset_or_null:
                message = self.word(p.arg) or "parameter not set"
                raise ExpansionError(f"{p.name}: {message}")
            return current or ""
        return strip_pattern(current or "", self.pattern(p.arg), p.op)

    def pattern(self, word: Word) -> re.Pattern[str]:
        """The regex of a shell glob; quoted parts and quoted expansions are literal."""
        out = []
        for part in word:
            if isinstance(part, Lit) and part.quoted:
                out.append(re.escape(part.text))
            elif isinstance(part, Lit):
                out.append(glob_regex(part.text))
            elif isinstance(part, Param) and not part.quoted:
                out.append(glob_regex(self.param(part)))
            else:
                out.append(re.escape(self.part(part)))
        return re.compile("".join(out), re.DOTALL)


def glob_regex(glob: str) -> str:
    """Shell glob (`*`, `?`, `[...]`, backslash) to regex source."""
    out = []
    i = 0
    while i < len(glob):
        ch = glob[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "\\" and i + 1 < len(glob):
            i += 1
            out.append(re.escape(glob[i]))
        elif ch == "[":
            end = glob.find("]", i + 2 if glob[i + 1 : i + 2] in ("!", "^") else i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = glob[i + 1 : end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                escaped = body.replace("\\", "\\\\").replace("^", "\\^").replace("[", "\\[")
                out.append("[" + ("^" if negate else "") + escaped + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def strip_pattern(value: str, pattern: re.Pattern[str], op: str) -> str:
    """`${VAR#p}` (shortest prefix), `##` (longest), `%` (shortest suffix), `%%` (longest)."""
    n = len(value)
    if op in ("#", "##"):
        cuts = range(n + 1) if op == "#" else range(n, -1, -1)
        for cut in cuts:
            if pattern.fullmatch(value, 0, cut):
                return value[cut:]
    else:
        cuts = range(n, -1, -1) if op == "%" else range(n + 1)
        for cut in cuts:
            if pattern.fullmatch(value, cut, n):
                return value[:cut]
    return value


def expand_word_text(text: str, variables: Mapping[str, str]) -> str:
    """Expand one shell word given as text (kernel variables); raises on bad syntax."""
    statements = lex(text)
    words = [w for s in statements for w in s.words]
    if len(statements) != 1 or len(words) != 1 or statements[0].operators:
        raise ShellSyntaxError("not a single shell word")
    return Expander(variables.get).word(words[0], tilde=True)
