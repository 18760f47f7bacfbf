/** Cloud Elements' paging header: the token for the next page of a list, passed back as `nextPage`. */
export const NEXT_PAGE_HEADER = 'elements-next-page-token';
