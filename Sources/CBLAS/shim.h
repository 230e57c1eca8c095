#include <cblas.h>
// OpenBLAS extension: set the thread count of this process explicitly.
void openblas_set_num_threads(int num_threads);
