// Declarations only: the functions come from compiler-rt's libFuzzer.
#include "CFuzzer.h"
