# Vigil's image: one uvicorn process (the metrics registry is per process), non-root, read-only friendly.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --no-create-home vigil
USER 10001
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIGIL_CONFIG=/etc/vigil/vigil.yaml
EXPOSE 8080
ENTRYPOINT ["vigil"]
CMD ["serve", "--log-format", "json"]
