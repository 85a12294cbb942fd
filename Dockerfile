# Image of the project's services for docker-compose (edge producer, agents, projector, API).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 BIOGAS_LOG_FORMAT=json
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY streams ./streams
COPY ops ./ops
COPY logio ./logio
COPY agents ./agents
COPY edge_producer ./edge_producer
COPY projections ./projections
COPY api ./api
COPY stack ./stack
COPY simulator ./simulator
COPY evaluation ./evaluation
COPY modelops ./modelops
COPY cli ./cli
COPY configs ./configs
RUN pip install --no-cache-dir --require-hashes -r requirements.lock \
 && pip install --no-cache-dir --no-deps . \
 && useradd --system --uid 10001 biogas \
 && mkdir -p /var/lib/biogas/edge /var/lib/biogas/agents \
 && chown biogas /var/lib/biogas/edge /var/lib/biogas/agents
USER biogas
ENTRYPOINT ["biogas"]
CMD ["--help"]
