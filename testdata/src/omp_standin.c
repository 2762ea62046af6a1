/* A stand-in for a dylib a macOS kernel links (libomp). */
int omp_standin_threads(void) { return 4; }
