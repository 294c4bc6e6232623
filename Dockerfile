# articlebot: the Telegram bot / ingest image. CPU only; the embedding model ships inside a pip package,
# so the container never downloads anything at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Belt and braces: vectorstore/embeddings.py sets these too, but nothing in the image may reach a model hub.
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    ARTICLEBOT_DATA_DIR=/data

# CPU torch first, from the CPU index: otherwise pip resolves torch from PyPI and pulls several GB of CUDA wheels.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /app
# Dependencies change less often than the code: install them in their own layer.
COPY pyproject.toml README.md ./
RUN mkdir bot ingest vectorstore prompts \
    && touch bot/__init__.py ingest/__init__.py vectorstore/__init__.py prompts/__init__.py \
    && pip install . \
    && pip uninstall -y articlebot \
    && rm -rf bot ingest vectorstore prompts build *.egg-info
COPY bot ./bot
COPY ingest ./ingest
COPY vectorstore ./vectorstore
COPY prompts ./prompts
COPY examples ./examples
RUN pip install --no-deps . && rm -rf build *.egg-info

# Non-root at run time. /data is created here, owned by the user, so a fresh named volume mounted there
# inherits that ownership (the bot keeps its chat memory and, in embedded mode, the store there).
RUN useradd --create-home --uid 10001 --user-group articlebot \
    && mkdir -p /data /articles \
    && chown articlebot:articlebot /data
USER articlebot
VOLUME ["/data"]

# The model is verified (sha256) and loaded once at build time: a damaged wheel fails the build, not the bot.
RUN python -c "from bot.settings import Settings; from vectorstore.embeddings import build_embedder; \
build_embedder(Settings()).embed_query('build check')"

# Healthy = store reachable (or open in the running bot: embedded mode) and the model files verified. --quick: a
# check every minute must not import torch and load the model (~1 GB, seconds of CPU) beside the bot.
# --allow-empty: a bot that has not been fed yet is still serving (it answers "no articles yet"), so it must not be
# reported unhealthy before the first ingest.
HEALTHCHECK --interval=60s --timeout=60s --start-period=60s --retries=3 \
    CMD ["articlebot", "health", "--allow-empty", "--quick"]

CMD ["articlebot", "telegram"]
