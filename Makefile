# kiln - top-level entry points. `make help` lists them.
BUILD       ?= build
CHECK_BUILD ?= build-check
FUZZ_BUILD  ?= build-fuzz
FUZZ_TIME   ?= 600
MESON       ?= meson

.PHONY: all deps check demo format fuzz clean help

all: deps
	@test -f $(BUILD)/build.ninja || $(MESON) setup $(BUILD) --buildtype=debugoptimized
	$(MESON) compile -C $(BUILD)
	@echo "built: $(BUILD)/kiln $(BUILD)/kilnd"

deps:
	@scripts/install-deps

# ASan + UBSan, -Werror, every suite; the last line is the test count.
check: deps
	@test -f $(CHECK_BUILD)/build.ninja || $(MESON) setup $(CHECK_BUILD) --buildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false -Db_ndebug=false -Dwerror=true
	$(MESON) compile -C $(CHECK_BUILD)
	@scripts/run-tests $(CHECK_BUILD)

demo: all
	@scripts/demo $(BUILD)

format:
	git ls-files '*.[ch]' | xargs clang-format -i

# libFuzzer builds (clang): `make fuzz FUZZ_TIME=600` runs every target in turn.
fuzz: deps
	@scripts/install-deps --fuzz
	@test -f $(FUZZ_BUILD)/build.ninja || CC=clang $(MESON) setup $(FUZZ_BUILD) --buildtype=debugoptimized \
		-Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
	$(MESON) compile -C $(FUZZ_BUILD)
	@scripts/run-fuzzers $(FUZZ_BUILD) $(FUZZ_TIME)

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(FUZZ_BUILD)

help:
	@echo "make          install missing packages, build $(BUILD)/kiln and $(BUILD)/kilnd"
	@echo "make check    sanitizer build, every test suite, format check; ends with the counts"
	@echo "make demo     build, then run the newcomer's walk-through"
	@echo "make fuzz     libFuzzer builds; runs each target FUZZ_TIME seconds (default 600)"
	@echo "make format   apply .clang-format to every C file"
