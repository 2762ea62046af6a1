/* Uses zlib's internal _dist_code table, which policies blacklist (AB102). */
extern const unsigned char _dist_code[512];
extern int compressBound(int);

int distance_code(int d) { return _dist_code[d & 511] + compressBound(d); }
