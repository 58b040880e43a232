// fmt's compiled part (fmt::vformat and the locale helpers it instantiates), built into the
// lean helper binaries (kelp_lean_executable in the top CMakeLists.txt) so that they need no
// libfmt.so. The same two explicit instantiations as fmt's own src/format.cc.
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {
template auto thousands_sep_impl<char>(locale_ref) -> thousands_sep_result<char>;
template auto decimal_point_impl(locale_ref) -> char;
}  // namespace detail
FMT_END_NAMESPACE
