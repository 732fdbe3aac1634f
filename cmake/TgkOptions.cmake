# Compiler settings that are part of tgk's arithmetic contract, and the warning policy.

# The contract (docs/design.md section 3): no contraction of a*b+c into an fma anywhere, no
# fast-math; an fma exists only where a kernel calls Fma(). Highway targets that cannot fuse
# (SSSE3, SSE4: no FMA unit) are not compiled, so an explicit Fma is fused on every path.
# These definitions travel with tgk::tgk, because users instantiate kernels in their own TUs.
# The target bits are disjoint, so `+` means `|`; unlike `(A|B)` it needs no shell quoting in
# the pkg-config Cflags (Highway parenthesizes the macro where it uses it).
set(TGK_CONTRACT_OPTIONS -ffp-contract=off -fno-fast-math)
set(TGK_HWY_DEFINITIONS HWY_COMPILE_ALL_ATTAINABLE HWY_WANT_AVX3_DL
                         HWY_DISABLED_TARGETS=HWY_SSSE3+HWY_SSE4)

function(tgk_apply_contract target)
  target_compile_options(${target} PUBLIC ${TGK_CONTRACT_OPTIONS})
  target_compile_definitions(${target} PUBLIC ${TGK_HWY_DEFINITIONS})
endfunction()

function(tgk_apply_warnings target)
  # GCC 12 warns about designated initializers that leave members to their defaults
  # (QueueOptions{.threads = 2}), which is the intended use: that one warning is off.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-missing-field-initializers)
  if(TGK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(TGK_SANITIZE)
  add_compile_options(-fsanitize=${TGK_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${TGK_SANITIZE})
endif()

# Every target built from this tree must carry -ffp-contract=off, directly or through tgk::tgk.
function(tgk_check_contract_on_all_targets)
  get_property(dirs DIRECTORY ${PROJECT_SOURCE_DIR} PROPERTY SUBDIRECTORIES)
  set(all_targets)
  foreach(dir ${PROJECT_SOURCE_DIR} ${dirs})
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    list(APPEND all_targets ${targets})
  endforeach()
  foreach(target IN LISTS all_targets)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "UTILITY" OR type STREQUAL "INTERFACE_LIBRARY")
      continue()
    endif()
    get_target_property(options ${target} COMPILE_OPTIONS)
    get_target_property(links ${target} LINK_LIBRARIES)
    if(NOT "-ffp-contract=off" IN_LIST options AND NOT "tgk::tgk" IN_LIST links
       AND NOT "tgk" IN_LIST links)
      message(FATAL_ERROR "target ${target} is built without -ffp-contract=off (link tgk::tgk or "
                          "call tgk_apply_contract)")
    endif()
  endforeach()
endfunction()
