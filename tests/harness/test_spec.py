import pytest

from harness.spec import parse_spec
from harness.types import HarnessError, Request, SamplingParams


def test_specs_parse() -> None:
    s = parse_spec("openai:tiny@http://127.0.0.1:8000/v1?concurrency=4&price_in=1.5")
    assert (s.backend, s.target, s.base_url) == ("openai", "tiny", "http://127.0.0.1:8000/v1")
    assert s.options == {"concurrency": 4, "price_in": 1.5}
    assert parse_spec("openai:gpt-4-1106-preview").base_url is None
    v = parse_spec("vllm:/ckpt/m1?tensor_parallel_size=2&enforce_eager=true")
    assert v.target == "/ckpt/m1" and v.options == {"tensor_parallel_size": 2, "enforce_eager": True}


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("foo:bar", "unknown backend 'foo'"),
        ("hf", "expected BACKEND:TARGET"),
        ("hf:", "empty path"),
        ("openai:@http://x/v1", "empty model name"),
        ("openai:m@ftp://host", "must be http"),
        ("openai:m@localhost:8000", "must be http"),
    ],
)
def test_bad_specs(spec: str, fragment: str) -> None:
    with pytest.raises(HarnessError, match=fragment):
        parse_spec(spec)


def test_sampling_validation() -> None:
    with pytest.raises(HarnessError, match="n must be a positive"):
        SamplingParams(n=0)
    with pytest.raises(HarnessError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(HarnessError, match="exactly one"):
        Request()


def test_request_key_ignores_n() -> None:
    a = Request.user("hi", n=1, seed=3).content_key()
    b = Request.user("hi", n=8, seed=3).content_key()
    assert a == b
    assert a != Request.user("hi", n=1, seed=4).content_key()
