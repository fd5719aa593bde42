#!/usr/bin/env bash
# Checks the recording and alerting rules and runs their unit tests with promtool (Debian:
# apt-get install prometheus). Run from anywhere; exits non-zero on the first problem.
# prometheus.yml is not checked here: Debian's promtool is built without Kubernetes service
# discovery and rejects kubernetes_sd_configs, which upstream builds accept.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not found: install it with 'apt-get install -y prometheus'" >&2
  exit 1
fi

promtool check rules rules/*.yml
promtool test rules tests/*.yml
