import pytest

from harness.spec import parse_spec, shown
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


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("hf:ckpt?batch_size=0", "option batch_size must be >= 1, got 0"),
        ("hf:ckpt?batch_size=abc", "option batch_size must be an integer, got 'abc'"),
        ("hf:ckpt?dtype=float64x", "option dtype must be one of float32, float16, bfloat16, got 'float64x'"),
        ("hf:ckpt?batchsize=8", "unknown option 'batchsize' for backend hf (known: batch_size,"),
        ("openai:gpt-4?concurrency=0", "option concurrency must be >= 1, got 0"),
        ("openai:gpt-4?timeout=nan", "option timeout must be a finite number"),
        ("vllm:ckpt?gpu_memory_utilization=1.5", "option gpu_memory_utilization must be > 0 and <= 1.0, got 1.5"),
    ],
)
def test_backend_options_are_declared_typed_and_bounded(spec: str, expected: str) -> None:
    with pytest.raises(HarnessError) as err:
        parse_spec(spec)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_secrets_in_a_spec_are_never_echoed() -> None:
    """URL credentials are refused (they would be stored with the spec); a key pasted as an option is named,
    never echoed; shown() is what may be printed or stored."""
    with pytest.raises(HarnessError) as err:
        parse_spec("openai:m@http://alice:hunter2pass@127.0.0.1:8000/v1")
    assert "credentials in the base URL" in str(err.value) and "hunter2pass" not in str(err.value)
    with pytest.raises(HarnessError) as err:
        parse_spec("openai:m?api_key=sk-pastedFAKE123")
    assert "unknown option 'api_key'" in str(err.value) and "sk-pastedFAKE123" not in str(err.value)
    assert shown("openai:m@http://u:p@h/v1?api_key=sk-x") == "openai:m@http://h/v1?api_key=..."
