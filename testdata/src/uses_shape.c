/* An extension built against libshape v1: it calls shape_scale, which v2 removed. */
extern double shape_area(double w, double h);
extern double shape_scale(double v, double k);

double use_shape(double w) { return shape_scale(shape_area(w, w), 2.0); }
