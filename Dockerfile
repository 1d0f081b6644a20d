FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends make tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN make install PYTHON=python3.11
ENV OMNIDEX_DATA_DIR=/data
EXPOSE 8501
CMD ["sh", "-c", ".venv/bin/omnidex ingest /library && .venv/bin/omnidex serve --address 0.0.0.0"]
