# Shims: `make cook ARCH=arm64` forwards to `invoke cook --arch arm64`. No logic lives here.
ARCH ?= amd64
INV ?= .venv/bin/invoke
ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the tasks
	@$(INV) --list

.PHONY: prepare
prepare:
	$(INV) prepare $(ARGS)

.PHONY: cook
cook:
	$(INV) cook --arch $(ARCH) $(ARGS)

.PHONY: build
build:
	$(INV) build --arch $(ARCH) $(ARGS)

.PHONY: cache-prune
cache-prune:
	$(INV) cache-prune $(ARGS)

.PHONY: verify
verify:
	$(INV) verify --arch $(ARCH) $(ARGS)

.PHONY: test
test:
	.venv/bin/nox -s lint tests
