// Fast Walsh-Hadamard transform kernels (natural order), in place.
// The array is a concatenation of rows of length n (a power of two); because every
// stride h < n divides n, the butterfly index formulas below never cross a row.

template <typename T>
__device__ void fwht_shared_impl(T* x, int block, T scale) {
    // One CUDA block transforms x[blockIdx.x * block : (blockIdx.x + 1) * block]
    // in shared memory: all strides 1 .. block/2.
    extern __shared__ unsigned char smem_raw[];
    T* s = reinterpret_cast<T*>(smem_raw);
    const long long base = (long long)blockIdx.x * block;
    for (int i = threadIdx.x; i < block; i += blockDim.x) s[i] = x[base + i] * scale;
    __syncthreads();
    for (int h = 1; h < block; h <<= 1) {
        for (int t = threadIdx.x; t < block / 2; t += blockDim.x) {
            int i = (t / h) * 2 * h + (t % h);
            T a = s[i], b = s[i + h];
            s[i] = a + b;
            s[i + h] = a - b;
        }
        __syncthreads();
    }
    for (int i = threadIdx.x; i < block; i += blockDim.x) x[base + i] = s[i];
}

template <typename T>
__device__ void fwht_radix2_impl(T* x, long long h, long long work) {
    // stage with stride h: work = total / 2 butterflies, one per thread
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= work) return;
    long long i = (t / h) * 2 * h + (t % h);
    T a = x[i], b = x[i + h];
    x[i] = a + b;
    x[i + h] = a - b;
}

template <typename T>
__device__ void fwht_radix4_impl(T* x, long long h, long long work) {
    // stages with strides h and 2h: work = total / 4 groups of 4, one per thread
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= work) return;
    long long i = (t / h) * 4 * h + (t % h);
    T a = x[i], b = x[i + h], c = x[i + 2 * h], d = x[i + 3 * h];
    T s0 = a + b, s1 = a - b, s2 = c + d, s3 = c - d;
    x[i] = s0 + s2;
    x[i + h] = s1 + s3;
    x[i + 2 * h] = s0 - s2;
    x[i + 3 * h] = s1 - s3;
}

extern "C" {
__global__ void fwht_shared_f32(float* x, int block, float scale) { fwht_shared_impl<float>(x, block, scale); }
__global__ void fwht_shared_f64(double* x, int block, double scale) { fwht_shared_impl<double>(x, block, scale); }
__global__ void fwht_radix2_f32(float* x, long long h, long long work) { fwht_radix2_impl<float>(x, h, work); }
__global__ void fwht_radix2_f64(double* x, long long h, long long work) { fwht_radix2_impl<double>(x, h, work); }
__global__ void fwht_radix4_f32(float* x, long long h, long long work) { fwht_radix4_impl<float>(x, h, work); }
__global__ void fwht_radix4_f64(double* x, long long h, long long work) { fwht_radix4_impl<double>(x, h, work); }
}
