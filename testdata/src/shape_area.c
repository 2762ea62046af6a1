/* libshape split over two files, linked in both orders (libshape-split-*.so):
 * the same surface with a different .dynsym and section order. */
int shape_count = 3;
double shape_area(double w, double h) { return w * h; }
