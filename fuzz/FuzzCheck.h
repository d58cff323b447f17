// What every fuzz target includes once: the invariant check, independent of NDEBUG (it prints
// what failed and aborts, which libFuzzer reports as a crash and saves the input for), and the
// UBSan options, so that a target run by hand stops on undefined behaviour as scripts/fuzz does.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                      \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                          \
        }                                                                                          \
    } while (false)

/// Every UBSan report aborts, except the library ones listed in fuzz/ubsan.supp.
extern "C" const char* __ubsan_default_options() {
    return "halt_on_error=1:print_stacktrace=1:suppressions=" SB_FUZZ_UBSAN_SUPPRESSIONS;
}
