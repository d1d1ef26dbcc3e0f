"""Judge prompt templates: files in ``judges/prompts/`` with the papers' exact wording.

| name | source | placeholders |
|---|---|---|
| pointwise_additive | Self-Rewarding Fig. 2 (= Meta-Rewarding A.1, which drops Fig. 2's last sentence) | instruction, response |
| pointwise_li | Li et al. 2024, Self-Rewarding Fig. 7 (prompt ablation, Self-Rewarding Table 5) | instruction, response |
| meta_judge | Meta-Rewarding Fig. 2 | instruction, response, judgment_a, judgment_b |
| pointwise_additive_compact | the additive 5-point rubric of Fig. 2, each criterion in one line (the tiny demo model: ~110 tokens instead of ~400) | instruction, response |
| meta_judge_compact | Meta-Rewarding Fig. 2 with the rubric named, not restated (the tiny demo model) | instruction, response, judgment_a, judgment_b |
| alpaca_eval_clf | alpaca_eval's ``alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt`` (Meta-Rewarding A.2) | instruction, output_1, output_2 |

Placeholders are ``{name}`` and are substituted in ONE pass over the template (not ``str.format``, not
sequential ``str.replace``), so braces, or placeholder-like text such as ``{response}`` inside a user's
instruction, are left exactly as written.

A template written as alpaca_eval chat blocks (``<|im_start|>role\\ncontent<|im_end|>``) becomes one chat
message per block, like alpaca_eval's ``utils.prompt_to_chatml`` (role = the block's first line, content =
the rest, stripped). The blocks are split from the template *before* substitution, so an output that
contains ``<|im_end|>`` cannot split a message. Any other template is one user message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.files import read_text
from harness.types import HarnessError, Message

PROMPT_DIR = Path(__file__).resolve().parent / "prompts"

POINTWISE_FIELDS: tuple[str, ...] = ("instruction", "response")
META_FIELDS: tuple[str, ...] = ("instruction", "response", "judgment_a", "judgment_b")
PAIRWISE_FIELDS: tuple[str, ...] = ("instruction", "output_1", "output_2")

# name -> (file in PROMPT_DIR, placeholders the template must contain)
REGISTRY: dict[str, tuple[str, tuple[str, ...]]] = {
    "pointwise_additive": ("pointwise_additive.txt", POINTWISE_FIELDS),
    "pointwise_li": ("pointwise_li.txt", POINTWISE_FIELDS),
    "meta_judge": ("meta_judge.txt", META_FIELDS),
    "pointwise_additive_compact": ("pointwise_additive_compact.txt", POINTWISE_FIELDS),
    "meta_judge_compact": ("meta_judge_compact.txt", META_FIELDS),
    "alpaca_eval_clf": ("alpaca_eval_clf.txt", PAIRWISE_FIELDS),
}

_START, _END = "<|im_start|>", "<|im_end|>"
_BLOCK = re.compile(re.escape(_START) + r"([^\n]*)\n(.*?)" + re.escape(_END), re.S)
_ROLES = ("system", "user", "assistant")


def _chat_blocks(text: str, where: str) -> tuple[tuple[str, str], ...] | None:
    """(role, content template) per <|im_start|> block, or None for a plain template."""
    if _START not in text:
        return None
    blocks = []
    rest = text
    for m in _BLOCK.finditer(text):
        role = m.group(1).strip()
        if role not in _ROLES:
            raise HarnessError(f"{where}: chat block with unknown role {role!r} (expected one of {', '.join(_ROLES)})")
        blocks.append((role, m.group(2).strip()))
        rest = rest.replace(m.group(0), "", 1)
    if rest.strip():
        raise HarnessError(f"{where}: text outside {_START}...{_END} blocks: {rest.strip()[:60]!r}")
    return tuple(blocks)


@dataclass(frozen=True)
class PromptTemplate:
    """A judge prompt: its text and the placeholders that :meth:`render` fills (all of them required)."""

    name: str
    text: str
    placeholders: tuple[str, ...]
    # (role, content template) per <|im_start|> block; None for a plain (single user message) template
    blocks: tuple[tuple[str, str], ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", _chat_blocks(self.text, self.name))

    def _substitute(self, text: str, fields: dict[str, str]) -> str:
        missing = [p for p in self.placeholders if p not in fields]
        if missing:
            raise HarnessError(f"prompt {self.name}: missing field(s) {', '.join(missing)}")
        unknown = sorted(set(fields) - set(self.placeholders))
        if unknown:
            raise HarnessError(f"prompt {self.name}: unknown field(s) {', '.join(unknown)}")
        for key, value in fields.items():
            if not isinstance(value, str):
                raise HarnessError(f"prompt {self.name}: field {key} must be a string, got {type(value).__name__}")
        pattern = re.compile("|".join(re.escape("{" + p + "}") for p in self.placeholders))
        return pattern.sub(lambda m: fields[m.group(0)[1:-1]], text)

    def render(self, **fields: str) -> str:
        """The template with every placeholder replaced (one pass; the inserted text is never re-scanned)."""
        return self._substitute(self.text, fields)

    def to_messages(self, **fields: str) -> list[Message]:
        """The rendered prompt as chat messages: one per <|im_start|> block, else one user message."""
        if self.blocks is None:
            return [Message("user", self._substitute(self.text.strip(), fields))]
        return [Message(role, self._substitute(content, fields)) for role, content in self.blocks]

    def to_messages_dicts(self, **fields: str) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self.to_messages(**fields)]


def load_prompt(name_or_path: str, placeholders: tuple[str, ...] | None = None) -> PromptTemplate:
    """A registered prompt by name, or a user template file.

    ``placeholders`` are the fields the caller will fill; by default the registered prompt's, or
    ``("instruction", "response")`` (a pointwise judge) for a file. The template must contain every one of
    them, else HarnessError naming the file and the missing placeholder(s).
    """
    if name_or_path in REGISTRY:
        filename, registered = REGISTRY[name_or_path]
        path = PROMPT_DIR / filename
        required = placeholders or registered
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise HarnessError(f"judge prompt {name_or_path!r}: not a known prompt ({', '.join(REGISTRY)}) nor a file")
        required = placeholders or POINTWISE_FIELDS
    text = read_text(path)
    missing = [p for p in required if "{" + p + "}" not in text]
    if missing:
        raise HarnessError(f"{path}: judge prompt lacks placeholder(s) {', '.join('{' + p + '}' for p in missing)}")
    _chat_blocks(text, str(path))  # a malformed chat template fails here, naming the file
    return PromptTemplate(str(name_or_path), text, tuple(required))
