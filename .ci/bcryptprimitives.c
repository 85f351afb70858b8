/* A stand-in for Windows' bcryptprimitives.dll, for running Go's Windows
 * test binaries under wine 8, which lacks ProcessPrng (Go >= 1.24 asks for
 * it at start-up). It answers from RtlGenRandom (advapi32's SystemFunction036),
 * which wine has. Built by .ci/wine-prefix; never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, chunk))
			return FALSE;
		data += chunk;
		len -= chunk;
	}
	return TRUE;
}
