//! Invoice state resolution: a pure, order-independent function of the set of
//! messages about one invoice.
