# ustack — build, test and demo entry points.
#   make            release build into build/
#   make SANITIZE=address,undefined BUILD=build-asan   sanitizer build
#   make test       deps + both builds + unit tests + integration tests
#   make demo       deps + build + curl through ustack against nginx in a test network
#   make install PREFIX=/usr/local

CC       ?= cc
BUILD    ?= build
PREFIX   ?= /usr/local
SANITIZE ?=

WARN   = -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-align -Wwrite-strings \
         -Wstrict-prototypes -Wmissing-prototypes -Werror
CFLAGS_ALL = -std=gnu11 -O2 -g -fPIC $(WARN) -MMD -MP -Iinclude -Istack -D_GNU_SOURCE $(CFLAGS)
LDLIBS_STACK = -lev -lpthread -ldl
LDLIBS_SHIM  = $(LDLIBS_STACK) -lcares
ifneq ($(SANITIZE),)
CFLAGS_ALL += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DUSTACK_SANITIZE='"$(SANITIZE)"'
LDFLAGS    += -fsanitize=$(SANITIZE)
endif

STACK_SRC = $(sort $(wildcard stack/*.c))
SHIM_SRC  = $(filter-out shim/ustack.c,$(sort $(wildcard shim/*.c)))
RELAY_SRC = $(sort $(wildcard tests/relay/*.c))
UNIT_SRC  = $(sort $(wildcard tests/unit/test_*.c))
TOOL_SRC  = $(sort $(wildcard tests/tools/*.c))

STACK_OBJ = $(STACK_SRC:%.c=$(BUILD)/%.o)
SHIM_OBJ  = $(SHIM_SRC:%.c=$(BUILD)/%.o)
RELAY_OBJ = $(RELAY_SRC:%.c=$(BUILD)/%.o)
RELAY_LIB_OBJ = $(filter-out $(BUILD)/tests/relay/relay_main.o,$(RELAY_OBJ))
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
TOOL_BIN  = $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)

all: $(BUILD)/libustack_stack.a $(BUILD)/libustack.so $(BUILD)/ustack \
     $(if $(RELAY_SRC),$(BUILD)/ustack-relay) $(UNIT_BIN) $(TOOL_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/libustack_stack.a: $(STACK_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# libustack.so exports only the hooked libc functions (every global function the shim defines
# outside its shim_/fdtable_ internals) and the us_* API: the stack's internals stay private, so
# no other library can interpose on them or clash with them.
$(BUILD)/libustack.map: $(SHIM_OBJ)
	@{ echo '{ global:'; nm -g --defined-only $(SHIM_OBJ) | \
	   awk '$$2 == "T" && $$3 !~ /^(shim_|fdtable_)/ { print "  " $$3 ";" }' | sort -u; \
	   echo '  us_*;'; echo 'local: *; };'; } > $@

$(BUILD)/libustack.so: $(SHIM_OBJ) $(STACK_OBJ) $(BUILD)/libustack.map
	$(CC) -shared $(LDFLAGS) -Wl,-z,defs -Wl,--version-script=$(BUILD)/libustack.map \
		-Wl,-soname,libustack.so -o $@ $(SHIM_OBJ) $(STACK_OBJ) $(LDLIBS_SHIM)

$(BUILD)/ustack: $(BUILD)/shim/ustack.o
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/ustack-relay: $(RELAY_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lev -lm

# Unit tests: one Criterion binary per tests/unit/test_*.c, linked with the stack
# library (and the relay's modules for test_relay_*).
$(BUILD)/tests/unit/test_relay_%: $(BUILD)/tests/unit/test_relay_%.o $(RELAY_LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion -lev -lm

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(BUILD)/libustack_stack.a
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libustack_stack.a -lcriterion $(LDLIBS_STACK) -lm

$(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o
	$(CC) $(LDFLAGS) -o $@ $^

.PHONY: all deps unit integration test demo install clean
deps:
	@bash tests/deps.sh

unit: all
	@bash tests/run-unit.sh $(BUILD)

integration: all
	@bash tests/integration/run.sh $(BUILD)

# make test: release and ASan+UBSan builds, unit and integration tests with both.
test: deps
	@bash tests/run-all.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@bash demo/demo.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/libustack.so $(DESTDIR)$(PREFIX)/lib/libustack.so
	install -m 0755 $(BUILD)/ustack $(DESTDIR)$(PREFIX)/bin/ustack
	install -m 0755 shim/ustack-net.sh $(DESTDIR)$(PREFIX)/lib/ustack-net.sh

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
