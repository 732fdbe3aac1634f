set(TGK_gdn_solve_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/gdn_solve.h)
