export const BASE_PATH = '/elements/api-v2';
