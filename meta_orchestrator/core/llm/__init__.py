"""Talking to language models: the plumbing under the ``chat`` variant kind (``core.kinds.chat``).

    endpoint   one (base_url, model) pair's adaptive concurrency limit, shared in a process (AIMD)
    retry      which failures are transient; backoff with jitter, Retry-After, deadlines
    client     one chat-completions request through the official ``openai`` client (lazy import)
    cache      the SQLite response cache (``cache: true``)
    prompt     chat messages from a sample: system, few-shot examples, a template
    extract    the answer inside a reply: text, last number, regex, JSON
    server     a local llama.cpp server with SmolLM2 (``meta-orchestrator serve-model``)

Nothing here imports ``openai`` or ``llama_cpp`` at import time.
"""
