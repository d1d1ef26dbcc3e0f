"""Judge prompt templates: files in ``judges/prompts/`` with the papers' exact wording.

| name | source | placeholders |
|---|---|---|
| pointwise_additive | Self-Rewarding Fig. 2 (= Meta-Rewarding A.1) | instruction, response |
| pointwise_li | Li et al. 2024, Self-Rewarding Fig. 7 (prompt ablation, Table 5) | instruction, response |
| meta_judge | Meta-Rewarding Fig. 2 | instruction, response, judgment_a, judgment_b |
| alpaca_eval_clf | alpaca_eval's alpaca_eval_clf_gpt4_turbo (Meta-Rewarding A.2) | instruction, output_1, output_2 |

Placeholders are ``{name}`` and are substituted in one pass, so braces or placeholder-like text
inside a user's instruction or a response are left as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.io import read_text
from harness.types import HarnessError, Message

PROMPT_DIR = Path(__file__).resolve().parent / "prompts"
REGISTRY: dict[str, tuple[str, tuple[str, ...]]] = {
    "pointwise_additive": ("pointwise_additive.txt", ("instruction", "response")),
    "pointwise_li": ("pointwise_li.txt", ("instruction", "response")),
    "meta_judge": ("meta_judge.txt", ("instruction", "response", "judgment_a", "judgment_b")),
    "alpaca_eval_clf": ("alpaca_eval_clf.txt", ("instruction", "output_1", "output_2")),
}
# alpaca_eval writes chat prompts as <|im_start|>role\ncontent<|im_end|> blocks
_CHAT_BLOCK = re.compile(r"<\|im_start\|>(system|user|assistant)\n(.*?)<\|im_end\|>", re.S)


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    text: str
    placeholders: tuple[str, ...]

    def render(self, **fields: str) -> str:
        missing = set(self.placeholders) - set(fields)
        if missing:
            raise HarnessError(f"prompt {self.name}: missing field(s) {', '.join(sorted(missing))}")
        pattern = re.compile("|".join(re.escape("{" + p + "}") for p in self.placeholders))
        return pattern.sub(lambda m: str(fields[m.group(0)[1:-1]]), self.text)

    def to_messages(self, **fields: str) -> list[Message]:
        """The rendered prompt as chat messages: alpaca_eval's <|im_start|> blocks, else one user message."""
        text = self.render(**fields)
        blocks = _CHAT_BLOCK.findall(text)
        if blocks:
            return [Message(role, content.strip("\n")) for role, content in blocks]
        return [Message("user", text.strip())]

    def to_messages_dicts(self, **fields: str) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self.to_messages(**fields)]


def load_prompt(name_or_path: str, placeholders: tuple[str, ...] | None = None) -> PromptTemplate:
    """A registered prompt by name, or a user template file (its placeholders given or taken from the
    registered prompt of the same role). Every required placeholder must appear in the template."""
    if name_or_path in REGISTRY:
        filename, required = REGISTRY[name_or_path]
        path = PROMPT_DIR / filename
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise HarnessError(f"judge prompt {name_or_path!r}: not a known prompt ({', '.join(REGISTRY)}) nor a file")
        required = placeholders or ("instruction", "response")
    text = read_text(path)
    missing = [p for p in required if "{" + p + "}" not in text]
    if missing:
        raise HarnessError(f"{path}: judge prompt lacks placeholder(s) {', '.join('{' + p + '}' for p in missing)}")
    return PromptTemplate(str(name_or_path), text, tuple(required))
