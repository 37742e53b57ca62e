# The Convoy operator image: what a release builds and pushes, and what charts/convoy runs (its `image` values).
# NOT BUILT HERE: the development machine has no Docker engine, so no test builds this file or runs the image.
#
#   docker build -t REGISTRY/convoy:0.1.0 .
#
# The dependencies are pinned exactly in pyproject.toml; the image runs as user 65532, the user the chart's pod
# security context requires, with a read-only root filesystem (Python writes no bytecode).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A named user, not only a number: without POD_ID (set by the chart), kopf names itself after the user.
RUN groupadd --gid 65532 convoy \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin convoy

WORKDIR /src
# pyproject.toml names README.md as the package's readme, so the build needs it.
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN pip install --no-cache-dir . \
    && rm -rf /src

WORKDIR /
USER 65532:65532
ENTRYPOINT ["convoy"]
