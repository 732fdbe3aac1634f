set(TGK_gdn_state_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/gdn_state.h)
