"""An OpenAI-compatible server with planted behaviour, for calibrating the live benchmark paths: its own process.

    python tests/planted_server.py --port P --p-win 0.7 --seed 0 --rating1 8 --rating2 6 --retry-every 3

It answers every chat request from the request alone (no model), as one of four roles told apart by the prompt:

- **annotator, AlpacaEval** (the ``alpaca_eval_clf`` prompt): prefers the output marked ``[planted]`` (the
  actor's) with probability ``p_win`` per instruction, drawn by :func:`model_wins`; the chosen identifier gets
  logprob 0 and the other -100, so the weighted preference is exactly 1 or 2.
- **annotator, Arena-Hard** (judge_config.yaml's system prompt): the same draw per question; ``B>A``-style labels
  in whichever position the actor's answer is. Every ``retry_every``-th question (by :func:`needs_retry`) first
  answers without a verdict, and gives it only after arena-hard-auto's "continue your judgment" turn.
- **annotator, MT-Bench** (FastChat's ``[[rating]]`` prompts): ``Rating: [[rating1]]`` for turn 1,
  ``[[rating2]]`` for turn 2.
- **judge under test** (the additive 5-point prompt): the responses carry their human rank as ``[rank=K]``; per
  prompt, with probability ``q_judge`` (:func:`judge_faithful`) the rank-1 response scores 5 and the others 1,
  otherwise the reverse, so on two-response prompts the pairwise accuracy is q_judge. With ``--judge-score S``
  it scores every response S instead (a saturated judge, for the alarm tests). Asked for logprobs, it returns its
  tokens, the score's with the planted top logprobs of :func:`score_top_logprobs` (expected-score judging). A response without a rank marker
  (real data such as the OASST sample) gets :func:`unranked_score`: with probability ``q_judge`` a score shared by
  every seed (a planted consensus), otherwise the seed's own draw, so judges of different seeds agree in part.
- **actor** (anything else): ``[planted] answer`` plus a request-dependent number of words (lengths vary, so the
  length-controlled GLM has a length term to fit); ``usage.completion_tokens`` is the word count.

The draws are pure functions of (seed, text), importable by tests: the planted truth is computed from them,
never from the code under test. A request for a model named ``NAME-sK`` uses seed K instead of ``--seed`` (one
server serves many seeded repetitions); with ``--rating1 0`` the MT-Bench ratings are drawn uniformly from
1..10 per (seed, question, turn) instead (planted mean 5.5). ``GET /stats`` counts requests per role.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MARK = "[planted]"
CONTINUE = "continue your judgment and finish by outputting a final verdict label"
ARENA_SYSTEM = "Please act as an impartial judge and evaluate the quality of the responses provided by two AI"


def _unit(*parts: object) -> float:
    """A uniform draw in [0, 1) from the parts (sha256)."""
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def model_wins(seed: int, p_win: float, key: str) -> bool:
    """The planted verdict for one item (an instruction or a question text): the actor wins with p_win."""
    return _unit(seed, "win", key) < p_win


def judge_faithful(seed: int, q_judge: float, prompt: str) -> bool:
    """Whether the planted judge orders this prompt's responses as the human ranks do."""
    return _unit(seed, "judge", prompt) < q_judge


def score_top_logprobs(score: int) -> list[tuple[str, float]]:
    """The planted top logprobs of the judge's score token, when a request asks for logprobs: the written score
    " S" 0.6, its neighbour 0.3 (" S+1", or " 4" for a 5), and a token that is no number, " points", 0.1."""
    neighbour = score + 1 if score < 5 else 4
    return [(f" {score}", math.log(0.6)), (f" {neighbour}", math.log(0.3)), (" points", math.log(0.1))]


def _judge_answer(score: int, body: dict) -> tuple[str, list | None]:
    """The judge's text, and with ``logprobs`` asked its tokens, the last (the score) with the planted top."""
    tokens = ["The response is judged.", " Score", ":", f" {score}"]
    if not body.get("logprobs"):
        return "".join(tokens), None
    content = [{"token": t, "logprob": 0.0, "bytes": None, "top_logprobs": [{"token": t, "logprob": 0.0}]}
               for t in tokens[:-1]]  # fmt: skip
    top = [{"token": t, "logprob": lp} for t, lp in score_top_logprobs(score)]
    content.append({"token": tokens[-1], "logprob": top[0]["logprob"], "bytes": None, "top_logprobs": top})
    return "".join(tokens), content


def unranked_score(seed: int, q_judge: float, prompt: str, response: str) -> int:
    """The planted judge's score (1..5) of a response that carries no rank marker: the consensus score of
    (prompt, response) with probability q_judge, else this seed's own uniform draw."""
    if _unit(seed, "follow", prompt, response) < q_judge:
        return 1 + int(_unit("consensus", prompt, response) * 5)
    return 1 + int(_unit(seed, "own", prompt, response) * 5)


def needs_retry(seed: int, retry_every: int, key: str) -> bool:
    """Whether the Arena-Hard judge first answers without a verdict for this question."""
    return retry_every > 0 and int(_unit(seed, "retry", key) * retry_every) == 0


def mt_rating(seed: int, key: str, turn: int) -> int:
    """The random MT-Bench rating of one (question, turn): uniform on 1..10."""
    return 1 + int(_unit(seed, "rating", turn, key) * 10)


def actor_text(key: str) -> str:
    n = int(_unit("len", key) * 60)
    return f"{MARK} answer " + " ".join(f"w{k}" for k in range(n))


def _question(user_prompt: str) -> str:
    """A key for the MT-Bench question inside FastChat's single-grading prompt (its first paragraph)."""
    m = re.search(r"(?:\[Question\]|### User:)\n(.*?)\n\n", user_prompt, flags=re.DOTALL)
    return m.group(1) if m else user_prompt


def _between(text: str, start: str, end: str) -> str:
    i = text.index(start) + len(start)
    return text[i : text.index(end, i)]


class Planted:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.lock = threading.Lock()
        self.counts = {"actor": 0, "alpaca_eval": 0, "arena_hard": 0, "mt_bench": 0, "judge": 0}

    def answer(self, body: dict) -> tuple[str, list | None]:
        """(text, logprobs content or None) for one chat request."""
        msgs = body.get("messages") or []
        system = next((m["content"] for m in msgs if m["role"] == "system"), "")
        users = [m["content"] for m in msgs if m["role"] == "user"]
        first_user = users[0] if users else ""
        a = self.args
        named = re.search(r"-s(\d+)$", str(body.get("model", "")))
        seed = int(named.group(1)) if named else a.seed
        if "## Best Model Identifier" in first_user:
            role = "alpaca_eval"
            instruction = _between(first_user, '"instruction": """', '""",')
            outputs = re.findall(r'"output": """(.*?)"""', first_user, flags=re.DOTALL)
            model_id = "m" if outputs[0].startswith(MARK) else "M"
            other = "M" if model_id == "m" else "m"
            chosen = model_id if model_wins(seed, a.p_win, instruction) else other
            top = [{"token": chosen, "logprob": 0.0}, {"token": "M" if chosen == "m" else "m", "logprob": -100.0}]
            content = [{"token": chosen, "logprob": 0.0, "bytes": None, "top_logprobs": top}]
            text, logprobs = chosen, content
        elif system.startswith(ARENA_SYSTEM):
            role = "arena_hard"
            question = _between(first_user, "<|User Prompt|>\n", "\n\n<|The Start of Assistant A's Answer|>")
            answer_a = _between(first_user, "<|The Start of Assistant A's Answer|>\n", "\n<|The End of Assistant A")
            if needs_retry(seed, a.retry_every, question) and users[-1] != CONTINUE:
                text = "Let me first write my own answer to the prompt and compare."
            else:
                model_is_a = answer_a.startswith(MARK)
                wins = model_wins(seed, a.p_win, question)
                label = ("A>B" if model_is_a else "B>A") if wins else ("B>A" if model_is_a else "A>B")
                text = f"My final verdict is: [[{label}]]"
            logprobs = None
        elif "additive 5-point scoring system" in first_user and a.judge_score:
            role = "judge"  # the saturated judge of the alarm tests: the same score for every response
            if float(a.judge_score).is_integer():
                text, logprobs = _judge_answer(int(a.judge_score), body)
            else:
                text, logprobs = f"The response is judged. Score: {a.judge_score:g}", None
        elif "additive 5-point scoring system" in first_user:
            role = "judge"
            prompt = _between(first_user, "User: ", "\n\n<response>")
            response = _between(first_user, "<response>", "</response>")
            if "[rank=" in response:
                score = 5 if ("[rank=1]" in response) == judge_faithful(seed, a.q_judge, prompt) else 1
            else:
                score = unranked_score(seed, a.q_judge, prompt, response)
            text, logprobs = _judge_answer(score, body)
        elif "[[rating]]" in system + first_user:
            role = "mt_bench"
            turn2 = "<|The Start of Assistant A's Conversation with User|>" in first_user
            if a.rating1:
                rating = a.rating2 if turn2 else a.rating1
            else:
                rating = mt_rating(seed, _question(first_user), 2 if turn2 else 1)
            text, logprobs = f"The answer is judged. Rating: [[{rating}]]", None
        else:
            role = "actor"
            text, logprobs = actor_text(json.dumps(msgs, sort_keys=True)), None
        with self.lock:
            self.counts[role] += 1
        return text, logprobs


def make_handler(state: Planted) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _send(self, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.endswith("/stats"):
                with state.lock:
                    self._send(dict(state.counts))
            else:
                self._send({"object": "list", "data": [{"id": "planted", "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            choices = []
            n_words = 0
            for i in range(int(body.get("n") or 1)):
                text, logprobs = state.answer(body)
                n_words += len(text.split())
                choices.append({"index": i, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": text},
                                "logprobs": None if logprobs is None else {"content": logprobs}})  # fmt: skip
            self._send({
                "id": "planted", "object": "chat.completion", "created": 0, "model": body.get("model", "planted"),
                "choices": choices,
                "usage": {"prompt_tokens": 10, "completion_tokens": n_words, "total_tokens": 10 + n_words},
            })  # fmt: skip

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--p-win", type=float, default=0.5)
    parser.add_argument("--rating1", type=float, default=8)
    parser.add_argument("--rating2", type=float, default=6)
    parser.add_argument("--retry-every", type=int, default=0)
    parser.add_argument("--q-judge", type=float, default=0.8)
    parser.add_argument("--judge-score", type=float, default=0, help="> 0: the judge gives this score to everything")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(Planted(args)))
    print(f"planted server on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
