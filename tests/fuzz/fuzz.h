/*
 * What every fuzz target defines: libFuzzer's entry point, called once per
 * input, by libFuzzer (make fuzz) or by replay.c (make check).
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A broken invariant: say which and abort, so the fuzzer keeps the input. */
#define FUZZ_ASSERT(x) do {						\
	if (!(x))							\
		fuzz_fail(__FILE__, __LINE__, #x);			\
} while (0)

void	fuzz_fail(const char *, int, const char *)
	    __attribute__((__noreturn__));

#endif /* FUZZ_H */
