/* A stand-in for NVIDIA's CUDA driver library (libcuda.so.1) for the tests of DriverLibraries and `devices --diagnose` on a
 * machine without a GPU: the calls ILGPU and the diagnosis make while looking for devices, answering as one compute
 * capability 9.0 device with 80 GiB under a CUDA 13.0 driver, and refusing to create a context (CUDA_ERROR_NOT_SUPPORTED),
 * since there is no GPU behind it. Built by the tests with gcc:
 *   gcc -shared -fPIC -o libcuda.so.1 standin_libcuda.c [-DCUINIT_RESULT=34]
 * CUINIT_RESULT=34 makes it behave as the CUDA toolkit's stub library, whose cuInit returns CUDA_ERROR_STUB_LIBRARY.
 * Return codes and attribute numbers are those of cuda.h (CUresult, CUdevice_attribute). */
#include <stddef.h>
#include <string.h>

#ifndef CUINIT_RESULT
#define CUINIT_RESULT 0
#endif

#define CUDA_SUCCESS 0
#define CUDA_ERROR_INVALID_VALUE 1
#define CUDA_ERROR_NOT_INITIALIZED 3
#define CUDA_ERROR_INVALID_DEVICE 101
#define CUDA_ERROR_NOT_SUPPORTED 801

static int initialised = 0;

int cuInit(unsigned int flags) {
  (void)flags;
  if (CUINIT_RESULT == 0) initialised = 1;
  return CUINIT_RESULT;
}

int cuDriverGetVersion(int *version) {
  if (!version) return CUDA_ERROR_INVALID_VALUE;
  *version = 13000;
  return CUDA_SUCCESS;
}

int cuDeviceGetCount(int *count) {
  if (!initialised) return CUINIT_RESULT ? CUINIT_RESULT : CUDA_ERROR_NOT_INITIALIZED;
  *count = 1;
  return CUDA_SUCCESS;
}

int cuDeviceGet(int *device, int ordinal) {
  if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
  *device = 0;
  return CUDA_SUCCESS;
}

int cuDeviceGetName(char *name, int length, int device) {
  if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
  strncpy(name, "Stand-in GPU", (size_t)length);
  return CUDA_SUCCESS;
}

int cuDeviceTotalMem_v2(size_t *bytes, int device) {
  if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = (size_t)80 << 30;
  return CUDA_SUCCESS;
}

/* An H100-like answer for the attributes ILGPU reads; 0 for the rest (flags such as ECC or TCC off). */
int cuDeviceGetAttribute(int *value, int attribute, int device) {
  if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
  switch (attribute) {
    case 1: *value = 1024; break;                        /* max threads per block */
    case 2: case 3: *value = 1024; break;                /* max block dim x, y */
    case 4: *value = 64; break;                          /* max block dim z */
    case 5: *value = 2147483647; break;                  /* max grid dim x */
    case 6: case 7: *value = 65535; break;               /* max grid dim y, z */
    case 8: *value = 49152; break;                       /* shared memory per block */
    case 9: *value = 65536; break;                       /* total constant memory */
    case 10: *value = 32; break;                         /* warp size */
    case 11: *value = 2147483647; break;                 /* max pitch */
    case 12: *value = 65536; break;                      /* registers per block */
    case 13: *value = 1980000; break;                    /* clock rate, kHz */
    case 16: *value = 132; break;                        /* multiprocessors */
    case 36: *value = 2619000; break;                    /* memory clock rate, kHz */
    case 37: *value = 5120; break;                       /* global memory bus width, bits */
    case 38: *value = 52428800; break;                   /* L2 cache, bytes */
    case 39: *value = 2048; break;                       /* max threads per multiprocessor */
    case 75: *value = 9; break;                          /* compute capability major */
    case 76: *value = 0; break;                          /* compute capability minor */
    case 81: *value = 233472; break;                     /* shared memory per multiprocessor */
    case 82: *value = 65536; break;                      /* registers per multiprocessor */
    default: *value = 0; break;
  }
  return CUDA_SUCCESS;
}

int cuCtxCreate_v2(void **context, unsigned int flags, int device) {
  (void)flags; (void)device;
  *context = NULL;
  return CUDA_ERROR_NOT_SUPPORTED;
}

static const char *name_of(int error) {
  switch (error) {
    case CUDA_SUCCESS: return "CUDA_SUCCESS";
    case CUDA_ERROR_INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
    case CUDA_ERROR_NOT_INITIALIZED: return "CUDA_ERROR_NOT_INITIALIZED";
    case 34: return "CUDA_ERROR_STUB_LIBRARY";
    case CUDA_ERROR_INVALID_DEVICE: return "CUDA_ERROR_INVALID_DEVICE";
    case CUDA_ERROR_NOT_SUPPORTED: return "CUDA_ERROR_NOT_SUPPORTED";
    default: return NULL;
  }
}

int cuGetErrorName(int error, const char **text) {
  *text = name_of(error);
  return *text ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

int cuGetErrorString(int error, const char **text) {
  *text = error == CUDA_ERROR_NOT_SUPPORTED ? "operation not supported (stand-in driver: no GPU behind it)" : name_of(error);
  return *text ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
