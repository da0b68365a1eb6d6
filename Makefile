# Shims: `make cook ARCH=arm64` forwards to `invoke cook --arch arm64`. No logic lives here.
ARCH ?= amd64
# one --arch per word: ARCH="amd64 arm64" builds both, ARCH= the arches of galley.toml
ARCH_FLAGS = $(foreach arch,$(ARCH),--arch $(arch))
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
	$(INV) cook $(ARCH_FLAGS) $(ARGS)

.PHONY: build
build:
	$(INV) build $(ARCH_FLAGS) $(ARGS)

.PHONY: test-arch
test-arch: ## galley test per arch (`make test` runs galley's own suite)
	$(INV) test $(ARCH_FLAGS) $(ARGS)

.PHONY: check
check:
	$(INV) check $(ARCH_FLAGS) $(ARGS)

.PHONY: clippy
clippy:
	$(INV) clippy $(ARCH_FLAGS) $(ARGS)

.PHONY: cache-prune
cache-prune:
	$(INV) cache-prune $(ARGS)

.PHONY: verify
verify:
	$(INV) verify $(ARCH_FLAGS) $(ARGS)

.PHONY: test
test:
	.venv/bin/nox -s lint tests
